package s3os;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * An S3 bucket (optionally under a prefix) as an object store, over the native s3os library.
 *
 * <pre>{@code
 * Map<String, String> config = new HashMap<>();
 * config.put("prefix", "runs/exp1");
 * config.put("endpoint_url", "http://127.0.0.1:9000"); // omit for AWS
 * try (S3ObjectStore store = new S3ObjectStore("my-bucket", config)) {
 *     store.uploadObject("ckpt/ep1.pt", Paths.get("ep1.pt"), null);
 *     store.downloadObject("ckpt/ep1.pt", Paths.get("restore/ep1.pt"), false, null);
 * }
 * }</pre>
 *
 * <p>Object names are relative to the store's prefix everywhere, including the names
 * {@link #listObjects} returns. Names, prefixes and paths must be valid Unicode without NUL
 * characters; they are passed to the library as UTF-8.
 *
 * <p>A store may be used from any number of threads at once. {@link #close()} waits for the
 * calls running on other threads to return, then releases the native store; calls made after
 * it throw {@link IllegalStateException}. A store that is never closed keeps its connections
 * until the process exits.
 *
 * <p>Failures map to exceptions as follows: a missing object or bucket to
 * {@link java.nio.file.NoSuchFileException}, an existing download target to
 * {@link java.nio.file.FileAlreadyExistsException}, rejected credentials to
 * {@link java.nio.file.AccessDeniedException}, failures that outlasted the retries to
 * {@link TransientException}, a cancelling listener to {@link TransferCancelledException}, bad
 * arguments (including those the library rejects, such as an unknown configuration key) to
 * {@link IllegalArgumentException}, and anything else to {@link S3osException} with the
 * library's status. A failure the library reports carries the library's message.
 */
public final class S3ObjectStore implements AutoCloseable {
    private final String bucket;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** Set when close() starts, so that no new call begins while it waits. */
    private volatile boolean closing;
    /** The native store; guarded by {@link #lock}, 0 once closed. */
    private long handle;

    /**
     * Connects to {@code bucket}. Settings not given in {@code config} (credentials, region)
     * come from the environment and the standard AWS chain, as in boto3.
     *
     * @param bucket the bucket's name
     * @param config the library's configuration keys and values, such as {@code prefix},
     *     {@code endpoint_url}, {@code region_name}, {@code aws_access_key_id},
     *     {@code aws_secret_access_key}, {@code max_attempts}, {@code multipart_chunksize},
     *     {@code max_concurrency} (see the README); may be empty
     * @throws IllegalArgumentException if {@code bucket} or {@code config} is null, a key or
     *     value is null or not valid Unicode, or the library rejects the bucket, a key or a value
     * @throws IOException if the store cannot be created (for example, its credentials cannot
     *     be loaded)
     */
    public S3ObjectStore(String bucket, Map<String, String> config) throws IOException {
        byte[] bucketBytes = NativeStore.utf8(bucket, "bucket");
        if (config == null) {
            throw new IllegalArgumentException(
                    "config must not be null (an empty map gives the defaults)");
        }
        List<byte[]> keys = new ArrayList<>();
        List<byte[]> values = new ArrayList<>();
        for (Map.Entry<String, String> entry : config.entrySet()) {
            String key = entry.getKey();
            keys.add(NativeStore.utf8(key, "a config key"));
            values.add(NativeStore.utf8(entry.getValue(), "the value of config key " + key));
        }
        long[] storeOut = new long[1];
        byte[][] errorOut = new byte[1][];
        int status = NativeStore.open(
                bucketBytes,
                keys.toArray(new byte[0][]),
                values.toArray(new byte[0][]),
                storeOut,
                errorOut);
        NativeStore.check(status, errorOut, bucket, null);
        this.bucket = bucket;
        lock.writeLock().lock();
        try {
            handle = storeOut[0];
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * The version of the native s3os library, such as {@code "0.1.0"}.
     *
     * @return the library's version
     */
    public static String version() {
        return NativeStore.string(NativeStore.version());
    }

    /**
     * Uploads {@code file} as object {@code name}. Large files go up in concurrent parts; a
     * failed or cancelled multipart upload is aborted on the server.
     *
     * @param name the object's name, relative to the store's prefix
     * @param file the file to upload
     * @param listener receives progress and may cancel; may be null
     * @throws java.nio.file.AccessDeniedException if the credentials are rejected
     * @throws TransferCancelledException if {@code listener} returned false
     * @throws TransientException if the upload failed for a reason that may pass
     * @throws S3osException if the file cannot be read, or for other failures
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if {@code name} or {@code file} is null or not valid
     * @throws IllegalStateException if the store is closed
     */
    public void uploadObject(String name, Path file, ProgressListener listener)
            throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        byte[] pathBytes = NativeStore.utf8(nativePath(file), "file");
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.upload(store, nameBytes, pathBytes, listener, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, name, file.toString());
    }

    /**
     * Downloads object {@code name} to {@code file}, creating missing parent directories. The
     * bytes land in a temporary file beside {@code file} that is renamed into place only after
     * every byte arrived and was verified; on failure neither remains.
     *
     * @param name the object's name, relative to the store's prefix
     * @param file where to store the object
     * @param overwrite whether an existing {@code file} may be replaced
     * @param listener receives progress and may cancel; may be null
     * @throws java.nio.file.NoSuchFileException if the object does not exist
     * @throws java.nio.file.FileAlreadyExistsException if {@code file} exists and
     *     {@code overwrite} is false (checked before any request)
     * @throws java.nio.file.AccessDeniedException if the credentials are rejected
     * @throws TransferCancelledException if {@code listener} returned false
     * @throws TransientException if the download failed for a reason that may pass
     * @throws S3osException if the file cannot be written, the bytes fail verification, or
     *     for other failures
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if {@code name} or {@code file} is null or not valid
     * @throws IllegalStateException if the store is closed
     */
    public void downloadObject(String name, Path file, boolean overwrite, ProgressListener listener)
            throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        byte[] pathBytes = NativeStore.utf8(nativePath(file), "file");
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.download(
                    store, nameBytes, pathBytes, overwrite, listener, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, name, file.toString());
    }

    /**
     * The size of object {@code name} in bytes.
     *
     * @param name the object's name, relative to the store's prefix
     * @return the object's size
     * @throws java.nio.file.NoSuchFileException if the object does not exist
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if {@code name} is null or not valid
     * @throws IllegalStateException if the store is closed
     */
    public long getObjectSize(String name) throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        long[] sizeOut = new long[1];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.objectSize(store, nameBytes, sizeOut, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, name, null);
        return sizeOut[0];
    }

    /**
     * The URI of object {@code name}: {@code s3://<bucket>/<prefix><name>}. Makes no request.
     *
     * @param name the object's name, relative to the store's prefix
     * @return the object's URI
     * @throws IllegalArgumentException if {@code name} is null or not valid
     * @throws IllegalStateException if the store is closed
     */
    public String getUri(String name) {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        byte[][] uriOut = new byte[1][];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.uri(store, nameBytes, uriOut, errorOut);
        } finally {
            release();
        }
        try {
            NativeStore.check(status, errorOut, name, null);
        } catch (IOException e) {
            // The library fails this call only for bad arguments; anything else would be a bug.
            throw new UncheckedIOException(e);
        }
        return NativeStore.string(uriOut[0]);
    }

    /**
     * The names of the objects whose name starts with {@code prefix}, in key order.
     *
     * @param prefix the start of the names to list, relative to the store's prefix; null or
     *     empty lists every object under the store's prefix
     * @return a new list of names relative to the store's prefix (empty if none match)
     * @throws java.nio.file.NoSuchFileException if the bucket does not exist
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if {@code prefix} is not valid
     * @throws IllegalStateException if the store is closed
     */
    public List<String> listObjects(String prefix) throws IOException {
        byte[] prefixBytes = prefix == null ? null : NativeStore.utf8(prefix, "prefix");
        List<byte[]> encoded = new ArrayList<>();
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.list(store, prefixBytes, encoded, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, bucket, null);
        List<String> names = new ArrayList<>(encoded.size());
        for (byte[] name : encoded) {
            names.add(NativeStore.string(name));
        }
        return names;
    }

    /**
     * Deletes object {@code name}. As in S3, deleting an object that does not exist succeeds.
     *
     * @param name the object's name, relative to the store's prefix
     * @throws java.nio.file.AccessDeniedException if the credentials are rejected
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if {@code name} is null or not valid
     * @throws IllegalStateException if the store is closed
     */
    public void removeObject(String name) throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.delete(store, nameBytes, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, name, null);
    }

    /**
     * Uploads {@code data} as object {@code name}; see {@link #uploadBytes(String, byte[],
     * ProgressListener)}.
     *
     * @param name the object's name, relative to the store's prefix
     * @param data the object's bytes
     * @throws IOException as described in the class documentation
     */
    public void uploadBytes(String name, byte[] data) throws IOException {
        uploadBytes(name, data, null);
    }

    /**
     * Uploads {@code data} as object {@code name}, in concurrent parts from
     * {@code multipart_threshold} on, checked as {@link #uploadObject} is. The array is copied
     * once into native memory (a Java array may move; a direct buffer given to
     * {@link #uploadBuffer} is not copied).
     *
     * @param name the object's name, relative to the store's prefix
     * @param data the object's bytes
     * @param listener receives progress and may cancel; may be null
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if {@code name} or {@code data} is null or not valid
     * @throws IllegalStateException if the store is closed
     */
    public void uploadBytes(String name, byte[] data, ProgressListener listener)
            throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        if (data == null) {
            throw new IllegalArgumentException("data must not be null");
        }
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.uploadBytes(
                    store, nameBytes, data, 0, data.length, listener, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, name, null);
    }

    /**
     * Uploads the remaining bytes of {@code buffer} (position to limit) as object
     * {@code name}. A direct buffer is read in place, without a copy: its bytes must not change
     * during the call. A heap buffer is uploaded as {@link #uploadBytes} does. The buffer's
     * position is left unchanged.
     *
     * @param name the object's name, relative to the store's prefix
     * @param buffer the bytes to upload
     * @param listener receives progress and may cancel; may be null
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if {@code name} or {@code buffer} is null or not valid
     * @throws IllegalStateException if the store is closed
     */
    public void uploadBuffer(String name, ByteBuffer buffer, ProgressListener listener)
            throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        if (buffer == null) {
            throw new IllegalArgumentException("buffer must not be null");
        }
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            if (buffer.isDirect()) {
                status = NativeStore.uploadDirect(store, nameBytes, buffer, buffer.position(),
                        buffer.remaining(), listener, errorOut);
            } else if (buffer.hasArray()) {
                status = NativeStore.uploadBytes(store, nameBytes, buffer.array(),
                        buffer.arrayOffset() + buffer.position(), buffer.remaining(), listener,
                        errorOut);
            } else {
                byte[] copy = new byte[buffer.remaining()];
                buffer.duplicate().get(copy);
                status = NativeStore.uploadBytes(
                        store, nameBytes, copy, 0, copy.length, listener, errorOut);
            }
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, name, null);
    }

    /**
     * Downloads object {@code name} whole, verified as {@link #downloadObject} verifies.
     *
     * @param name the object's name, relative to the store's prefix
     * @return the object's bytes
     * @throws java.nio.file.NoSuchFileException if the object does not exist
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if the object is too large for a Java array
     * @throws IllegalStateException if the store is closed
     */
    public byte[] downloadBytes(String name) throws IOException {
        return downloadBytes(name, null);
    }

    /**
     * Downloads object {@code name} whole, verified as {@link #downloadObject} verifies (the
     * library downloads into native memory; the array is one copy of it).
     *
     * @param name the object's name, relative to the store's prefix
     * @param listener receives progress and may cancel; may be null
     * @return the object's bytes
     * @throws java.nio.file.NoSuchFileException if the object does not exist
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if the object is too large for a Java array
     * @throws IllegalStateException if the store is closed
     */
    public byte[] downloadBytes(String name, ProgressListener listener) throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        byte[][] bytesOut = new byte[1][];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.downloadBytes(store, nameBytes, bytesOut, listener, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, name, null);
        return bytesOut[0];
    }

    /**
     * Downloads object {@code name} into the direct {@code buffer}, from its position on,
     * without a copy, verified as {@link #downloadObject} verifies. On success the position
     * moves past the object's bytes.
     *
     * @param name the object's name, relative to the store's prefix
     * @param buffer a direct buffer with room for the object
     * @param listener receives progress and may cancel; may be null
     * @return the object's size
     * @throws BufferTooSmallException if the object does not fit (nothing was written; the
     *     exception names the size)
     * @throws java.nio.file.NoSuchFileException if the object does not exist
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if {@code buffer} is null or not direct
     * @throws IllegalStateException if the store is closed
     */
    public long downloadBuffer(String name, ByteBuffer buffer, ProgressListener listener)
            throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        if (buffer == null || !buffer.isDirect() || buffer.isReadOnly()) {
            throw new IllegalArgumentException(
                    "buffer must be a writable direct ByteBuffer (downloadBytes gives an array)");
        }
        long[] sizeOut = new long[1];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.downloadDirect(store, nameBytes, buffer, buffer.position(),
                    buffer.remaining(), sizeOut, listener, errorOut);
        } finally {
            release();
        }
        if (status == S3osException.BUFFER_TOO_SMALL) {
            throw new BufferTooSmallException(status,
                    NativeStore.string(NativeStore.statusName(status)),
                    NativeStore.string(errorOut[0]), sizeOut[0]);
        }
        NativeStore.check(status, errorOut, name, null);
        buffer.position(buffer.position() + (int) sizeOut[0]);
        return sizeOut[0];
    }

    /**
     * Reads the bytes from {@code offset} to {@code offset + length} of object {@code name}
     * (fewer if the object ends first; none if {@code offset} is its size), in concurrent parts
     * from {@code multipart_threshold} on. Checked by length and Content-Range (S3 keeps no
     * checksum of a range); a read that holds the whole object also against its CRC.
     *
     * @param name the object's name, relative to the store's prefix
     * @param offset the first byte
     * @param length how many bytes at most
     * @return the bytes read
     * @throws IllegalArgumentException if {@code offset} is beyond the end (the message names
     *     the size), or {@code offset} or {@code length} is negative
     * @throws IOException as described in the class documentation
     * @throws IllegalStateException if the store is closed
     */
    public byte[] readRange(String name, long offset, int length) throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException(
                    "offset and length must not be negative: " + offset + ", " + length);
        }
        byte[] bytes = new byte[length];
        int[] readOut = new int[1];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.readRange(
                    store, nameBytes, offset, bytes, 0, length, readOut, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, name, null);
        return readOut[0] == length ? bytes : Arrays.copyOf(bytes, readOut[0]);
    }

    /**
     * A stream that writes object {@code name}; the object appears when the stream is closed
     * ({@link S3OutputStream#abort()} abandons it). Nothing is sent until the first part is full.
     *
     * @param name the object's name, relative to the store's prefix
     * @return the stream
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if {@code name} is null or not valid
     * @throws IllegalStateException if the store is closed
     */
    public S3OutputStream openOutputStream(String name) throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        long[] writerOut = new long[1];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.writerOpen(store, nameBytes, writerOut, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, name, null);
        return new S3OutputStream(writerOut[0], name);
    }

    /**
     * A seekable stream over object {@code name}, pinned to the version found now (one
     * request: size, version and checksum).
     *
     * @param name the object's name, relative to the store's prefix
     * @return the stream
     * @throws java.nio.file.NoSuchFileException if the object does not exist
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if {@code name} is null or not valid
     * @throws IllegalStateException if the store is closed
     */
    public S3InputStream openInputStream(String name) throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        long[] out = new long[2];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.readerOpen(store, nameBytes, out, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, name, null);
        return new S3InputStream(out[0], out[1], name);
    }

    /**
     * Uploads {@code files.get(i)} as object {@code names.get(i)} for every i, up to
     * {@code max_objects_in_flight} objects at a time within one bound on memory. One failing
     * does not stop the others.
     *
     * @param names the objects' names, relative to the store's prefix
     * @param files the files, as many as names
     * @param listener receives the progress of all files together and may cancel; may be null
     * @throws BatchException once all have finished, if any failed (a cancellation too): its
     *     status is the first failed object's, {@link BatchException#getItemStatuses()} every
     *     object's
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if a list is null, holds a null or invalid element, or
     *     the lists differ in length
     * @throws IllegalStateException if the store is closed
     */
    public void uploadFiles(List<String> names, List<Path> files, ProgressListener listener)
            throws IOException {
        byte[][] nameBytes = utf8All(names, "names");
        byte[][] pathBytes = pathsAll(files, names.size());
        int[] statuses = new int[nameBytes.length];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.uploadFiles(
                    store, nameBytes, pathBytes, statuses, listener, errorOut);
        } finally {
            release();
        }
        checkBatch(status, errorOut, names, statuses, files);
    }

    /**
     * Downloads object {@code names.get(i)} to {@code files.get(i)} for every i, each as
     * {@link #downloadObject} does it, many at a time. One failing does not stop the others.
     *
     * @param names the objects' names, relative to the store's prefix
     * @param files where to store them, as many as names
     * @param overwrite whether existing files may be replaced
     * @param listener receives the progress of all objects together (the total grows as their
     *     sizes become known) and may cancel; may be null
     * @throws BatchException once all have finished, if any failed (see {@link #uploadFiles})
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException as for {@link #uploadFiles}
     * @throws IllegalStateException if the store is closed
     */
    public void downloadFiles(
            List<String> names, List<Path> files, boolean overwrite, ProgressListener listener)
            throws IOException {
        byte[][] nameBytes = utf8All(names, "names");
        byte[][] pathBytes = pathsAll(files, names.size());
        int[] statuses = new int[nameBytes.length];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.downloadFiles(
                    store, nameBytes, pathBytes, overwrite, statuses, listener, errorOut);
        } finally {
            release();
        }
        checkBatch(status, errorOut, names, statuses, files);
    }

    /**
     * Uploads every regular file under {@code dir} (recursively; symbolic links are not
     * followed) as {@code <prefix>/<relative path>}.
     *
     * @param dir the folder to upload
     * @param prefix the folder of objects to upload it to, relative to the store's prefix
     * @param listener receives the progress of all files together and may cancel; may be null
     * @throws IOException the exception of the first file that failed (the message counts the
     *     failures), or as described in the class documentation
     * @throws IllegalArgumentException if an argument is null or not valid
     * @throws IllegalStateException if the store is closed
     */
    public void uploadDir(Path dir, String prefix, ProgressListener listener) throws IOException {
        byte[] dirBytes = NativeStore.utf8(nativePath(dir), "dir");
        byte[] prefixBytes = NativeStore.utf8(prefix, "prefix");
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.uploadDir(store, dirBytes, prefixBytes, listener, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, prefix, dir.toString());
    }

    /**
     * Downloads every object under the folder {@code prefix} into the same relative paths
     * under {@code dir}. Objects whose names would leave {@code dir} ({@code ..}, absolute,
     * through a symbolic link) are refused ({@link IllegalArgumentException}) and nothing is
     * written for them; the others go on.
     *
     * @param prefix the folder of objects, relative to the store's prefix
     * @param dir the local folder
     * @param overwrite whether existing files may be replaced
     * @param listener receives the progress of all objects together and may cancel; may be null
     * @throws IOException the exception of the first object that failed, or as described in
     *     the class documentation
     * @throws IllegalArgumentException if an argument is null or not valid, or an object's
     *     name would leave {@code dir}
     * @throws IllegalStateException if the store is closed
     */
    public void downloadPrefix(String prefix, Path dir, boolean overwrite, ProgressListener listener)
            throws IOException {
        byte[] prefixBytes = NativeStore.utf8(prefix, "prefix");
        byte[] dirBytes = NativeStore.utf8(nativePath(dir), "dir");
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.downloadPrefix(
                    store, prefixBytes, dirBytes, overwrite, listener, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, prefix, dir.toString());
    }

    /**
     * Deletes the objects with S3's DeleteObjects (1,000 per request); missing ones count as
     * deleted.
     *
     * @param names the objects' names, relative to the store's prefix
     * @throws BatchException if any could not be deleted
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if the list is null or holds a null or invalid name
     * @throws IllegalStateException if the store is closed
     */
    public void removeObjects(List<String> names) throws IOException {
        byte[][] nameBytes = utf8All(names, "names");
        int[] statuses = new int[nameBytes.length];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.deleteObjects(store, nameBytes, statuses, errorOut);
        } finally {
            release();
        }
        checkBatch(status, errorOut, names, statuses, null);
    }

    /**
     * Deletes every object under the folder {@code prefix}.
     *
     * @param prefix the folder, relative to the store's prefix; must not be empty
     * @return the number of objects deleted
     * @throws IOException as described in the class documentation
     * @throws IllegalArgumentException if {@code prefix} is null, empty or not valid
     * @throws IllegalStateException if the store is closed
     */
    public long removePrefix(String prefix) throws IOException {
        byte[] prefixBytes = NativeStore.utf8(prefix, "prefix");
        long[] deletedOut = new long[1];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.deletePrefix(store, prefixBytes, deletedOut, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, prefix, null);
        return deletedOut[0];
    }

    /**
     * Starts uploading {@code file} as object {@code name} in the background and returns at
     * once. Failures of the upload itself are thrown by {@link Transfer#await}.
     *
     * @param name the object's name, relative to the store's prefix
     * @param file the file to upload
     * @return the running transfer, to close when done with it
     * @throws IOException if the transfer could not be started
     * @throws IllegalArgumentException if an argument is null or not valid
     * @throws IllegalStateException if the store is closed
     */
    public Transfer startUploadObject(String name, Path file) throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        byte[] pathBytes = NativeStore.utf8(nativePath(file), "file");
        long[] transferOut = new long[1];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.startUpload(store, nameBytes, pathBytes, transferOut, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, name, file.toString());
        return new Transfer(transferOut[0], name, file.toString());
    }

    /**
     * Starts downloading object {@code name} to {@code file} in the background (as
     * {@link #downloadObject} does it) and returns at once.
     *
     * @param name the object's name, relative to the store's prefix
     * @param file where to store the object
     * @param overwrite whether an existing {@code file} may be replaced
     * @return the running transfer, to close when done with it
     * @throws IOException if the transfer could not be started
     * @throws IllegalArgumentException if an argument is null or not valid
     * @throws IllegalStateException if the store is closed
     */
    public Transfer startDownloadObject(String name, Path file, boolean overwrite)
            throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        byte[] pathBytes = NativeStore.utf8(nativePath(file), "file");
        long[] transferOut = new long[1];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.startDownload(
                    store, nameBytes, pathBytes, overwrite, transferOut, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, name, file.toString());
        return new Transfer(transferOut[0], name, file.toString());
    }

    /**
     * Starts uploading the remaining bytes of {@code buffer} (position to limit) as object
     * {@code name} in the background, as {@link #uploadBuffer} does, and returns at once. A
     * direct buffer is lent to the transfer without a copy: its bytes must not change until the
     * transfer has finished ({@link Transfer#await} returned true or threw) or is closed. A
     * heap buffer's bytes are copied once into native memory the transfer owns. The buffer's
     * position is left unchanged.
     *
     * @param name the object's name, relative to the store's prefix
     * @param buffer the bytes to upload
     * @return the running transfer, to close when done with it
     * @throws IOException if the transfer could not be started
     * @throws IllegalArgumentException if an argument is null or not valid
     * @throws IllegalStateException if the store is closed
     */
    public Transfer startUploadBuffer(String name, ByteBuffer buffer) throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        if (buffer == null) {
            throw new IllegalArgumentException("buffer must not be null");
        }
        ByteBuffer lent = buffer;
        if (!buffer.isDirect()) {
            lent = ByteBuffer.allocateDirect(buffer.remaining());
            lent.put(buffer.duplicate()).flip();
        }
        long[] transferOut = new long[1];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.startUploadDirect(store, nameBytes, lent, lent.position(),
                    lent.remaining(), transferOut, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, name, null);
        return new Transfer(transferOut[0], name, null, lent, false);
    }

    /**
     * Starts downloading object {@code name} into the direct {@code buffer}, from its position
     * on, in the background (as {@link #downloadBuffer} does) and returns at once. The buffer
     * is lent to the transfer: nothing else may read or write it until the transfer has
     * finished or is closed. Its position is not moved; {@link Transfer#objectSize} gives the
     * number of bytes written. {@link Transfer#await} throws {@link BufferTooSmallException}
     * (naming the size) if the object does not fit, having written nothing.
     *
     * @param name the object's name, relative to the store's prefix
     * @param buffer a writable direct buffer
     * @return the running transfer, to close when done with it
     * @throws IOException if the transfer could not be started
     * @throws IllegalArgumentException if {@code buffer} is null, not direct or read-only
     * @throws IllegalStateException if the store is closed
     */
    public Transfer startDownloadBuffer(String name, ByteBuffer buffer) throws IOException {
        byte[] nameBytes = NativeStore.utf8(name, "name");
        if (buffer == null || !buffer.isDirect() || buffer.isReadOnly()) {
            throw new IllegalArgumentException("buffer must be a writable direct ByteBuffer");
        }
        long[] transferOut = new long[1];
        byte[][] errorOut = new byte[1][];
        int status;
        long store = acquire();
        try {
            status = NativeStore.startDownloadDirect(store, nameBytes, buffer, buffer.position(),
                    buffer.remaining(), transferOut, errorOut);
        } finally {
            release();
        }
        NativeStore.check(status, errorOut, name, null);
        return new Transfer(transferOut[0], name, null, buffer, true);
    }

    /**
     * Releases the native store and its connections, after waiting for the calls running on
     * other threads to return. Calls made afterwards throw {@link IllegalStateException};
     * closing again does nothing.
     *
     * @throws IllegalStateException if called from a progress listener of a call on this store
     *     (the call would never return)
     */
    @Override
    public void close() {
        if (lock.getReadHoldCount() > 0) {
            throw new IllegalStateException(
                    "close() was called from within a call on this store (a progress listener);"
                            + " close the store after the call returns");
        }
        closing = true;
        lock.writeLock().lock();
        try {
            if (handle != 0) {
                NativeStore.free(handle);
                handle = 0;
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * Describes the store by its bucket.
     *
     * @return {@code S3ObjectStore[<bucket>]}, with {@code (closed)} once closed
     */
    @Override
    public String toString() {
        return "S3ObjectStore[" + bucket + "]" + (closing ? " (closed)" : "");
    }

    /** The native store, held open (read lock) until {@link #release()}. */
    private long acquire() {
        if (closing) {
            throw closed();
        }
        lock.readLock().lock();
        if (handle == 0) {
            lock.readLock().unlock();
            throw closed();
        }
        return handle;
    }

    private void release() {
        lock.readLock().unlock();
    }

    private IllegalStateException closed() {
        return new IllegalStateException("the store for bucket " + bucket + " is closed");
    }

    private static byte[][] utf8All(List<String> values, String what) {
        if (values == null) {
            throw new IllegalArgumentException(what + " must not be null");
        }
        byte[][] encoded = new byte[values.size()][];
        for (int i = 0; i < encoded.length; i++) {
            encoded[i] = NativeStore.utf8(values.get(i), what + "[" + i + "]");
        }
        return encoded;
    }

    private static byte[][] pathsAll(List<Path> files, int count) {
        if (files == null) {
            throw new IllegalArgumentException("files must not be null");
        }
        if (files.size() != count) {
            throw new IllegalArgumentException(
                    "names and files differ in length (" + count + " and " + files.size() + ")");
        }
        byte[][] encoded = new byte[count][];
        for (int i = 0; i < count; i++) {
            encoded[i] = NativeStore.utf8(nativePath(files.get(i)), "files[" + i + "]");
        }
        return encoded;
    }

    /** Throws {@link BatchException} for a call on many objects that did not succeed. */
    private static void checkBatch(
            int status, byte[][] errorOut, List<String> names, int[] statuses, List<Path> files)
            throws BatchException {
        if (status == NativeStore.OK) {
            return;
        }
        String message = NativeStore.string(errorOut[0]);
        int first = 0;
        while (first < statuses.length && statuses[first] == NativeStore.OK) {
            first++;
        }
        String object = first < names.size() ? names.get(first) : null;
        String file = files != null && first < files.size() ? files.get(first).toString() : null;
        BatchException failure = new BatchException(
                status, NativeStore.string(NativeStore.statusName(status)), message, names, statuses);
        failure.initCause(NativeStore.exceptionFor(status, message, object, file));
        throw failure;
    }

    /** The path the library opens: absolute, resolved as java.io and java.nio resolve it. */
    private static String nativePath(Path file) {
        if (file == null) {
            throw new IllegalArgumentException("file must not be null");
        }
        if (file.getFileSystem() != FileSystems.getDefault()) {
            throw new IllegalArgumentException(
                    "file must be on the default file system, not " + file.getFileSystem());
        }
        return file.toAbsolutePath().toString();
    }
}
