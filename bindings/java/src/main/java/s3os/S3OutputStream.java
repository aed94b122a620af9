package s3os;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Writes an object in pieces ({@link S3ObjectStore#openOutputStream}). Full parts go up in the
 * background while writing goes on, at most {@code max_concurrency} at once, so memory stays
 * bounded whatever the object's size; an object below {@code multipart_threshold} is sent as
 * one PUT on close.
 *
 * <p>{@link #close()} completes the object, which appears only then, whole; it throws if that
 * fails (the upload is then aborted). {@link #abort()} abandons the object instead: nothing of
 * it remains on the server. As {@code try}-with-resources closes on an exception too, abort in
 * the {@code catch} when a partial object must not be stored:
 *
 * <pre>{@code
 * S3OutputStream out = store.openOutputStream("ckpt/ep1.bin");
 * try {
 *     out.write(bytes);
 *     out.close();             // the object appears
 * } catch (IOException | RuntimeException e) {
 *     out.abort();             // nothing remains
 *     throw e;
 * }
 * }</pre>
 *
 * <p>A part that failed is thrown by the next {@code write} or by {@code close}; the upload is
 * aborted and the stream finished. A stream that becomes unreachable without being closed or
 * aborted is aborted when the garbage collector finds it (no object appears); until then its
 * multipart upload stays unfinished on the server, so close or abort explicitly. One thread at
 * a time (methods are synchronized).
 * The stream keeps working after its store is closed.
 */
public final class S3OutputStream extends OutputStream {
    /** Small writes gather here before crossing into native code. */
    private static final int BUFFER = 256 * 1024;

    private final String name;
    private long writer;
    private final byte[] buffer = new byte[BUFFER];
    private int buffered;
    private long written;

    private final Abandoned abandoned;

    S3OutputStream(long writer, String name) {
        this.writer = writer;
        this.name = name;
        this.abandoned =
                new Abandoned(this, writer, h -> NativeStore.writerAbort(h, new byte[1][]));
    }

    @Override
    public synchronized void write(int b) throws IOException {
        open();
        if (buffered == BUFFER) {
            drain();
        }
        buffer[buffered++] = (byte) b;
        written++;
    }

    @Override
    public synchronized void write(byte[] data, int offset, int length) throws IOException {
        if (data == null) {
            throw new NullPointerException("data");
        }
        if (offset < 0 || length < 0 || length > data.length - offset) {
            throw new IndexOutOfBoundsException(
                    "offset " + offset + ", length " + length + " of " + data.length + " bytes");
        }
        open();
        if (length <= BUFFER - buffered) {
            System.arraycopy(data, offset, buffer, buffered, length);
            buffered += length;
        } else {
            drain();
            send(data, offset, length);
        }
        written += length;
    }

    /**
     * The number of bytes written so far.
     *
     * @return bytes written
     */
    public synchronized long position() {
        return written;
    }

    /**
     * Completes the object; it appears now. Closing again does nothing.
     *
     * @throws IOException if the upload failed (it was aborted: nothing remains)
     */
    @Override
    public synchronized void close() throws IOException {
        if (writer == 0) {
            return;
        }
        drain();
        long handle = writer;
        writer = 0;
        abandoned.released();
        byte[][] errorOut = new byte[1][];
        NativeStore.check(NativeStore.writerClose(handle, errorOut), errorOut, name, null);
    }

    /**
     * Abandons the object: parts on their way get a moment to be answered, then the upload is
     * aborted, so nothing remains on the server. Aborting a finished stream does nothing.
     *
     * @throws IOException only if the abort itself failed (parts may then remain)
     */
    public synchronized void abort() throws IOException {
        if (writer == 0) {
            return;
        }
        long handle = writer;
        writer = 0;
        abandoned.released();
        buffered = 0;
        byte[][] errorOut = new byte[1][];
        NativeStore.check(NativeStore.writerAbort(handle, errorOut), errorOut, name, null);
    }

    private void open() throws IOException {
        if (writer == 0) {
            throw new IOException("the stream for " + name + " is closed");
        }
    }

    private void drain() throws IOException {
        if (buffered > 0) {
            int length = buffered;
            buffered = 0;
            send(buffer, 0, length);
        }
    }

    private void send(byte[] data, int offset, int length) throws IOException {
        byte[][] errorOut = new byte[1][];
        int status = NativeStore.writerWrite(writer, data, offset, length, errorOut);
        if (status != NativeStore.OK) {
            // The upload was aborted: the stream is finished; freeing it reports nothing new.
            long handle = writer;
            writer = 0;
            abandoned.released();
            NativeStore.writerAbort(handle, new byte[1][]);
            NativeStore.check(status, errorOut, name, null);
        }
    }
}
