package s3os;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Paths;
import java.util.List;

/**
 * The JNI half of {@link S3ObjectStore}: one native method per C function, strings as UTF-8
 * bytes (JNI's own string functions use modified UTF-8), and the mapping of statuses to
 * exceptions.
 *
 * <p>Every native method returns the C status. On failure the glue has stored the library's
 * message, read on the calling thread right after the failing call, in {@code errorOut[0]}.
 * A Java exception thrown by a listener is left pending, so it propagates from the native
 * method in place of the status.
 */
final class NativeStore {
    static final int OK = 0;

    static {
        String explicit = System.getenv("S3OS_JNI_LIBRARY");
        try {
            if (explicit != null && !explicit.isEmpty()) {
                System.load(Paths.get(explicit).toAbsolutePath().toString());
            } else {
                System.loadLibrary("s3os_jni");
            }
        } catch (UnsatisfiedLinkError e) {
            UnsatisfiedLinkError detailed = new UnsatisfiedLinkError(
                    "cannot load the s3os JNI library (" + e.getMessage() + "): put the directory"
                            + " holding libs3os_jni.so and libs3os.so on java.library.path, or"
                            + " name the file in the environment variable S3OS_JNI_LIBRARY");
            detailed.initCause(e);
            throw detailed;
        }
    }

    private NativeStore() {}

    static native int open(
            byte[] bucket, byte[][] keys, byte[][] values, long[] storeOut, byte[][] errorOut);

    static native void free(long store);

    static native int upload(
            long store, byte[] name, byte[] path, ProgressListener listener, byte[][] errorOut);

    static native int download(
            long store,
            byte[] name,
            byte[] path,
            boolean overwrite,
            ProgressListener listener,
            byte[][] errorOut);

    static native int objectSize(long store, byte[] name, long[] sizeOut, byte[][] errorOut);

    static native int uri(long store, byte[] name, byte[][] uriOut, byte[][] errorOut);

    static native int delete(long store, byte[] name, byte[][] errorOut);

    /** Adds the names (UTF-8) of the objects starting with {@code prefix} to {@code names}. */
    static native int list(long store, byte[] prefix, List<byte[]> names, byte[][] errorOut);

    static native int uploadFiles(
            long store,
            byte[][] names,
            byte[][] paths,
            int[] statusesOut,
            ProgressListener listener,
            byte[][] errorOut);

    static native int downloadFiles(
            long store,
            byte[][] names,
            byte[][] paths,
            boolean overwrite,
            int[] statusesOut,
            ProgressListener listener,
            byte[][] errorOut);

    static native int uploadDir(
            long store, byte[] dir, byte[] prefix, ProgressListener listener, byte[][] errorOut);

    static native int downloadPrefix(
            long store,
            byte[] prefix,
            byte[] dir,
            boolean overwrite,
            ProgressListener listener,
            byte[][] errorOut);

    static native int deleteObjects(
            long store, byte[][] names, int[] statusesOut, byte[][] errorOut);

    static native int deletePrefix(long store, byte[] prefix, long[] deletedOut, byte[][] errorOut);

    static native int startUpload(
            long store, byte[] name, byte[] path, long[] transferOut, byte[][] errorOut);

    static native int startDownload(
            long store,
            byte[] name,
            byte[] path,
            boolean overwrite,
            long[] transferOut,
            byte[][] errorOut);

    static native int startUploadDirect(long store, byte[] name, ByteBuffer buffer, long position,
            long length, long[] transferOut, byte[][] errorOut);

    static native int startDownloadDirect(long store, byte[] name, ByteBuffer buffer,
            long position, long capacity, long[] transferOut, byte[][] errorOut);

    static native int transferObjectSize(long transfer, long[] sizeOut, byte[][] errorOut);

    /** Stores bytes done and total in {@code progressOut[0]} and {@code progressOut[1]}. */
    static native int transferProgress(long transfer, long[] progressOut, byte[][] errorOut);

    static native int transferWait(long transfer, long timeoutMillis, byte[][] errorOut);

    static native int transferCancel(long transfer, byte[][] errorOut);

    static native void transferFree(long transfer);

    static native int uploadBytes(
            long store,
            byte[] name,
            byte[] data,
            int offset,
            int length,
            ProgressListener listener,
            byte[][] errorOut);

    static native int uploadDirect(
            long store,
            byte[] name,
            ByteBuffer buffer,
            long position,
            long length,
            ProgressListener listener,
            byte[][] errorOut);

    static native int downloadDirect(
            long store,
            byte[] name,
            ByteBuffer buffer,
            long position,
            long capacity,
            long[] sizeOut,
            ProgressListener listener,
            byte[][] errorOut);

    static native int downloadBytes(
            long store, byte[] name, byte[][] bytesOut, ProgressListener listener, byte[][] errorOut);

    static native int readRange(
            long store,
            byte[] name,
            long offset,
            byte[] dst,
            int dstOffset,
            int length,
            int[] readOut,
            byte[][] errorOut);

    static native int writerOpen(long store, byte[] name, long[] writerOut, byte[][] errorOut);

    static native int writerWrite(
            long writer, byte[] data, int offset, int length, byte[][] errorOut);

    static native int writerClose(long writer, byte[][] errorOut);

    static native int writerAbort(long writer, byte[][] errorOut);

    /** Opens a reader: {@code out[0]} the handle, {@code out[1]} the object's size. */
    static native int readerOpen(long store, byte[] name, long[] out, byte[][] errorOut);

    static native int readerRead(
            long reader, byte[] dst, int offset, int length, int[] readOut, byte[][] errorOut);

    static native int readerSeek(long reader, long offset, byte[][] errorOut);

    static native void readerFree(long reader);

    static native byte[] statusName(int status);

    /**
     * Routes the library's log to {@link S3osLog#dispatch} at {@code level} (0: back to
     * S3OS_LOG), naming {@code registration} with each line.
     */
    static native int setLogListener(int level, long registration, byte[][] errorOut);

    static native byte[] version();

    /**
     * The UTF-8 bytes of {@code value} for the C API, which takes NUL-terminated UTF-8: a NUL
     * character, or a lone surrogate (which {@link String#getBytes} would silently turn into
     * {@code '?'}), is rejected.
     */
    static byte[] utf8(String value, String what) {
        if (value == null) {
            throw new IllegalArgumentException(what + " must not be null");
        }
        if (value.indexOf('\0') >= 0) {
            throw new IllegalArgumentException(what + " must not contain a NUL character");
        }
        try {
            ByteBuffer encoded = StandardCharsets.UTF_8.newEncoder().encode(CharBuffer.wrap(value));
            byte[] bytes = new byte[encoded.remaining()];
            encoded.get(bytes);
            return bytes;
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(
                    what + " is not valid Unicode (it contains an unpaired surrogate)", e);
        }
    }

    static String string(byte[] utf8) {
        return utf8 == null ? "" : new String(utf8, StandardCharsets.UTF_8);
    }

    /**
     * Returns if {@code status} is {@link #OK}, else throws its exception with the library's
     * message. {@code object} names the object (or bucket) the call was about, {@code file}
     * the local file, if any.
     */
    static void check(int status, byte[][] errorOut, String object, String file)
            throws IOException {
        if (status == OK) {
            return;
        }
        Exception failure = exceptionFor(status, string(errorOut[0]), object, file);
        if (failure instanceof RuntimeException) {
            throw (RuntimeException) failure;
        }
        throw (IOException) failure;
    }

    /**
     * The exception for a failed call: an {@link IOException}, or for bad arguments an
     * {@link IllegalArgumentException}.
     */
    static Exception exceptionFor(int status, String message, String object, String file) {
        switch (status) {
            case S3osException.INVALID_ARGUMENT:
                return new IllegalArgumentException(message);
            case S3osException.NOT_FOUND:
                return new NoSuchFileException(object, null, message);
            case S3osException.ALREADY_EXISTS:
                return new FileAlreadyExistsException(file, null, message);
            case S3osException.PERMISSION_DENIED:
                return new AccessDeniedException(object, null, message);
            case S3osException.TRANSIENT:
                return new TransientException(status, string(statusName(status)), message);
            case S3osException.CANCELLED:
                return new TransferCancelledException(status, string(statusName(status)), message);
            case S3osException.BUFFER_TOO_SMALL:
                return new BufferTooSmallException(status, string(statusName(status)), message, -1);
            default:
                return new S3osException(status, string(statusName(status)), message);
        }
    }
}
