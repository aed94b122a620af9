package s3os;

import java.io.IOException;
import java.io.InputStream;

/**
 * Reads an object in pieces ({@link S3ObjectStore#openInputStream}), pinned to the version
 * found when it was opened: if the object is overwritten meanwhile, reads throw
 * {@link TransientException} rather than mix versions. Reads that continue where the last one
 * ended are served from parts fetched ahead in the background; after {@link #seek} a read
 * fetches exactly what it asks for. Bytes read in order from the start are checked against the
 * object's CRC, when it has one, by the read that reaches the end ({@link S3osException} with
 * status {@code INTEGRITY}).
 *
 * <p>Seekable ({@link #seek}, {@link #skip}, {@link #mark}/{@link #reset}). One thread at a
 * time (methods are synchronized). {@link #close()} releases the native reader (a stream
 * dropped unclosed is released when the garbage collector finds it); the stream keeps working
 * after its store is closed.
 */
public final class S3InputStream extends InputStream {
    /** The most one native read copies at once. */
    private static final int MAX_READ = 4 * 1024 * 1024;

    private final String name;
    private final long size;
    private long reader;
    private long position;
    private long mark;

    private final Abandoned abandoned;

    S3InputStream(long reader, long size, String name) {
        this.reader = reader;
        this.size = size;
        this.name = name;
        this.abandoned = new Abandoned(this, reader, NativeStore::readerFree);
    }

    /**
     * The object's size in bytes.
     *
     * @return the size
     */
    public long size() {
        return size;
    }

    /**
     * The position of the next byte read.
     *
     * @return the position
     */
    public synchronized long position() {
        return position;
    }

    @Override
    public synchronized int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) == 1 ? one[0] & 0xff : -1;
    }

    @Override
    public synchronized int read(byte[] dst, int offset, int length) throws IOException {
        if (dst == null) {
            throw new NullPointerException("dst");
        }
        if (offset < 0 || length < 0 || length > dst.length - offset) {
            throw new IndexOutOfBoundsException(
                    "offset " + offset + ", length " + length + " of " + dst.length + " bytes");
        }
        long handle = handle();
        if (length == 0) {
            return 0;
        }
        int[] readOut = new int[1];
        byte[][] errorOut = new byte[1][];
        int status = NativeStore.readerRead(
                handle, dst, offset, Math.min(length, MAX_READ), readOut, errorOut);
        NativeStore.check(status, errorOut, name, null);
        if (readOut[0] == 0) {
            return -1;
        }
        position += readOut[0];
        return readOut[0];
    }

    /**
     * Moves to {@code offset}; makes no request.
     *
     * @param offset the new position, from 0 to {@link #size()}
     * @throws IOException if the stream is closed
     * @throws IllegalArgumentException if {@code offset} is negative or beyond the end
     */
    public synchronized void seek(long offset) throws IOException {
        long handle = handle();
        if (offset < 0) {
            throw new IllegalArgumentException("negative position " + offset);
        }
        byte[][] errorOut = new byte[1][];
        NativeStore.check(NativeStore.readerSeek(handle, offset, errorOut), errorOut, name, null);
        position = offset;
    }

    @Override
    public synchronized long skip(long n) throws IOException {
        if (n <= 0) {
            return 0;
        }
        long target = Math.min(size, position + n);
        long skipped = target - position;
        seek(target);
        return skipped;
    }

    @Override
    public synchronized int available() throws IOException {
        handle();
        return (int) Math.min(Integer.MAX_VALUE, size - position);
    }

    @Override
    public boolean markSupported() {
        return true;
    }

    @Override
    public synchronized void mark(int readLimit) {
        mark = position;
    }

    @Override
    public synchronized void reset() throws IOException {
        seek(mark);
    }

    /** Releases the native reader; closing again does nothing. */
    @Override
    public synchronized void close() {
        if (reader != 0) {
            long handle = reader;
            reader = 0;
            abandoned.released();
            NativeStore.readerFree(handle);
        }
    }

    private long handle() throws IOException {
        if (reader == 0) {
            throw new IOException("the stream for " + name + " is closed");
        }
        return reader;
    }
}
