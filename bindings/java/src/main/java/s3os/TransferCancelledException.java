package s3os;

/**
 * A {@link ProgressListener} returned {@code false}: the transfer was stopped and its partial
 * work cleaned up (no object, no unfinished multipart upload, no partial file).
 */
public class TransferCancelledException extends S3osException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception for a cancelled transfer.
     *
     * @param status the library's status code ({@link #CANCELLED})
     * @param statusName the status's name
     * @param message the library's message
     */
    public TransferCancelledException(int status, String statusName, String message) {
        super(status, statusName, message);
    }
}
