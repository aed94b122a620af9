package s3os;

import java.io.IOException;

/**
 * A failure reported by the s3os library that has no more specific Java exception: local file
 * errors ({@link #IO}), integrity failures ({@link #INTEGRITY}), internal errors
 * ({@link #INTERNAL}), TLS failures ({@link #TLS}) and any status this binding does not know
 * yet. Subclasses: {@link TransientException}, {@link TransferCancelledException} and
 * {@link BufferTooSmallException}.
 *
 * <p>The message is the library's: the operation, the object's {@code s3://} URI and the cause
 * (never credentials).
 */
public class S3osException extends IOException {
    private static final long serialVersionUID = 1L;

    /** {@code S3OS_INVALID_ARGUMENT}; surfaces as {@link IllegalArgumentException}. */
    public static final int INVALID_ARGUMENT = 1;
    /** {@code S3OS_NOT_FOUND}; surfaces as {@link java.nio.file.NoSuchFileException}. */
    public static final int NOT_FOUND = 2;
    /**
     * {@code S3OS_ALREADY_EXISTS}; surfaces as
     * {@link java.nio.file.FileAlreadyExistsException}.
     */
    public static final int ALREADY_EXISTS = 3;
    /** {@code S3OS_PERMISSION_DENIED}; surfaces as {@link java.nio.file.AccessDeniedException}. */
    public static final int PERMISSION_DENIED = 4;
    /** {@code S3OS_TRANSIENT}: throttling, 5xx, timeouts; see {@link TransientException}. */
    public static final int TRANSIENT = 5;
    /** {@code S3OS_CANCELLED}: a listener cancelled; see {@link TransferCancelledException}. */
    public static final int CANCELLED = 6;
    /** {@code S3OS_IO}: a local file could not be read, created or written. */
    public static final int IO = 7;
    /** {@code S3OS_INTEGRITY}: received bytes did not match their checksum or announced length. */
    public static final int INTEGRITY = 8;
    /** {@code S3OS_INTERNAL}: a bug in s3os, or an answer it could not interpret. */
    public static final int INTERNAL = 9;
    /**
     * {@code S3OS_TLS}: no secure connection could be established (the server's certificate
     * did not verify, or the endpoint does not speak TLS). Not retried; fix the configuration.
     */
    public static final int TLS = 10;
    /**
     * {@code S3OS_BUFFER_TOO_SMALL}: a buffer given for a download cannot hold the object; see
     * {@link BufferTooSmallException}.
     */
    public static final int BUFFER_TOO_SMALL = 11;
    /**
     * {@code S3OS_IN_PROGRESS}: a background transfer was still running when a wait for it
     * ended; {@link Transfer#await(long, java.util.concurrent.TimeUnit)} reports it by
     * returning false.
     */
    public static final int IN_PROGRESS = 12;

    private final int status;
    private final String statusName;

    /**
     * Creates an exception for a failed s3os call.
     *
     * @param status the library's status code
     * @param statusName the status's name, such as {@code "S3OS_IO"}
     * @param message the library's message
     */
    public S3osException(int status, String statusName, String message) {
        super(message);
        this.status = status;
        this.statusName = statusName;
    }

    /**
     * The library's status code, one of the constants of this class or a newer one.
     *
     * @return the status code
     */
    public int getStatus() {
        return status;
    }

    /**
     * The name of the status as the library spells it, such as {@code "S3OS_INTEGRITY"}
     * ({@code "S3OS_UNKNOWN_STATUS"} for a value the loaded library does not know).
     *
     * @return the status name
     */
    public String getStatusName() {
        return statusName;
    }
}
