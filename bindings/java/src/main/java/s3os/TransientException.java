package s3os;

/**
 * Throttling, server errors (5xx), timeouts or connection failures that outlasted the
 * configured retries ({@code max_attempts}). The same call may succeed later.
 */
public class TransientException extends S3osException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception for a transient failure.
     *
     * @param status the library's status code ({@link #TRANSIENT})
     * @param statusName the status's name
     * @param message the library's message
     */
    public TransientException(int status, String statusName, String message) {
        super(status, statusName, message);
    }
}
