package s3os;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A transfer running in the background, from {@link S3ObjectStore#startUploadObject},
 * {@link S3ObjectStore#startDownloadObject}, {@link S3ObjectStore#startUploadBuffer} or
 * {@link S3ObjectStore#startDownloadBuffer}. It moves bytes on the library's threads while the
 * caller goes on; nothing is called back, progress is polled.
 *
 * <p>{@link #await}, {@link #bytesDone}, {@link #bytesTotal} and {@link #cancel} may be called
 * from any thread, several at once. {@link #close()} cancels the transfer if it still runs,
 * waits for its cleanup (no partial file, no multipart upload left) and releases it; calls
 * afterwards throw {@link IllegalStateException}. A transfer may outlive its store: closing the
 * store cancels the transfers still running, whose {@code await} then throws
 * {@link TransferCancelledException}. A transfer that is never closed is released only at exit.
 */
public final class Transfer implements AutoCloseable {
    /**
     * The transfers that hold a buffer's memory, kept reachable until closed: a direct
     * buffer's memory is freed when the buffer is collected, which must not happen while the
     * library reads or writes it, even if the caller drops the transfer unclosed.
     */
    private static final Set<Transfer> LENDING = ConcurrentHashMap.newKeySet();

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final String object;
    private final String file;
    /** The buffer lent to the library, referenced so that it stays reachable while lent. */
    private final ByteBuffer lent;
    private final boolean downloadsIntoBuffer;
    private long handle;

    Transfer(long handle, String object, String file) {
        this(handle, object, file, null, false);
    }

    Transfer(long handle, String object, String file, ByteBuffer lent,
            boolean downloadsIntoBuffer) {
        this.handle = handle;
        this.object = object;
        this.file = file;
        this.lent = lent;
        this.downloadsIntoBuffer = downloadsIntoBuffer;
        if (lent != null) {
            LENDING.add(this);
        }
    }

    /**
     * Waits for the transfer to finish, at most {@code timeout}.
     *
     * @param timeout how long to wait at most; 0 only looks
     * @param unit the unit of {@code timeout}
     * @return true once the transfer succeeded, false if it is still running
     * @throws IOException the exception of the transfer's failure, as the blocking call would
     *     have thrown it (such as {@link TransferCancelledException} once cancelled)
     * @throws IllegalStateException if the transfer is closed
     */
    public boolean await(long timeout, TimeUnit unit) throws IOException {
        return waitMillis(Math.max(0, unit.toMillis(timeout)));
    }

    /**
     * Waits for as long as the transfer takes.
     *
     * @throws IOException the exception of the transfer's failure
     * @throws IllegalStateException if the transfer is closed
     */
    public void await() throws IOException {
        waitMillis(-1);
    }

    private boolean waitMillis(long timeoutMillis) throws IOException {
        byte[][] errorOut = new byte[1][];
        int status;
        long transfer = acquire();
        try {
            status = NativeStore.transferWait(transfer, timeoutMillis, errorOut);
        } finally {
            lock.readLock().unlock();
        }
        if (status == S3osException.IN_PROGRESS) {
            return false;
        }
        if (status == S3osException.BUFFER_TOO_SMALL && downloadsIntoBuffer) {
            throw new BufferTooSmallException(status,
                    NativeStore.string(NativeStore.statusName(status)),
                    NativeStore.string(errorOut[0]), objectSize());
        }
        NativeStore.check(status, errorOut, object, file);
        return true;
    }

    /**
     * The size of the object a transfer from {@link S3ObjectStore#startDownloadBuffer}
     * downloads, once its first answer has announced it: after {@link #await} succeeded, the
     * bytes written into the buffer (from its position); after a
     * {@link BufferTooSmallException}, the room needed.
     *
     * @return the object's size in bytes
     * @throws IllegalStateException if the transfer is closed, is not a download into a
     *     buffer, or no answer has announced the size (yet)
     */
    public long objectSize() {
        if (!downloadsIntoBuffer) {
            throw new IllegalStateException(
                    "objectSize() is for transfers from S3ObjectStore.startDownloadBuffer");
        }
        long[] sizeOut = new long[1];
        byte[][] errorOut = new byte[1][];
        int status;
        long transfer = acquire();
        try {
            status = NativeStore.transferObjectSize(transfer, sizeOut, errorOut);
        } finally {
            lock.readLock().unlock();
        }
        if (status != 0) {
            throw new IllegalStateException(NativeStore.string(errorOut[0]));
        }
        return sizeOut[0];
    }

    /**
     * The bytes moved so far.
     *
     * @return bytes done; never decreases
     * @throws IllegalStateException if the transfer is closed
     */
    public long bytesDone() {
        return progress()[0];
    }

    /**
     * The bytes the transfer moves in all (0 until known).
     *
     * @return the total
     * @throws IllegalStateException if the transfer is closed
     */
    public long bytesTotal() {
        return progress()[1];
    }

    private long[] progress() {
        long[] progress = new long[2];
        byte[][] errorOut = new byte[1][];
        long transfer = acquire();
        try {
            NativeStore.transferProgress(transfer, progress, errorOut);
        } finally {
            lock.readLock().unlock();
        }
        return progress;
    }

    /**
     * Asks the transfer to stop and returns at once; it cleans up in the background and then
     * fails with {@link TransferCancelledException}, unless it had finished.
     *
     * @throws IllegalStateException if the transfer is closed
     */
    public void cancel() {
        long transfer = acquire();
        try {
            NativeStore.transferCancel(transfer, new byte[1][]);
        } finally {
            lock.readLock().unlock();
        }
    }

    /**
     * Cancels the transfer if it still runs, waits for its cleanup and releases it. Waits on
     * other threads end (with the cancellation) first. Closing again does nothing.
     */
    @Override
    public void close() {
        lock.readLock().lock();
        try {
            if (handle != 0) {
                NativeStore.transferCancel(handle, new byte[1][]);
            }
        } finally {
            lock.readLock().unlock();
        }
        lock.writeLock().lock();
        try {
            if (handle != 0) {
                NativeStore.transferFree(handle);
                handle = 0;
                LENDING.remove(this);
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** The native handle, held (read lock) until the caller unlocks. */
    private long acquire() {
        lock.readLock().lock();
        if (handle == 0) {
            lock.readLock().unlock();
            throw new IllegalStateException("the transfer of " + object + " is closed");
        }
        return handle;
    }
}
