package s3os;

/**
 * Receives the progress of an upload or download.
 *
 * <p>The listener runs on the thread that called {@link S3ObjectStore#uploadObject} or
 * {@link S3ObjectStore#downloadObject}, never after that call returns. {@code bytesDone} is
 * cumulative and never decreases; on success the last call has {@code bytesDone ==
 * bytesTotal}.
 *
 * <p>Returning {@code false} cancels the transfer: the call then throws
 * {@link TransferCancelledException} after the partial work was cleaned up (an unfinished
 * multipart upload is aborted, a partial download file is removed). An exception thrown by the
 * listener cancels the transfer the same way and then propagates from the call instead. The
 * last call ({@code bytesDone == bytesTotal}) comes after every byte moved: returning
 * {@code false} there has no effect, and an exception thrown there still propagates although
 * the object or file is complete.
 */
@FunctionalInterface
public interface ProgressListener {
    /**
     * Called as bytes move.
     *
     * @param bytesDone bytes transferred so far
     * @param bytesTotal the object's size in bytes
     * @return {@code true} to continue, {@code false} to cancel the transfer
     */
    boolean onProgress(long bytesDone, long bytesTotal);
}
