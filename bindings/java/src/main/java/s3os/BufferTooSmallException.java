package s3os;

/**
 * A buffer given to {@link S3ObjectStore#downloadBuffer} is smaller than the object
 * ({@code S3OS_BUFFER_TOO_SMALL}); nothing was written into it.
 */
public class BufferTooSmallException extends S3osException {
    private static final long serialVersionUID = 1L;

    private final long requiredSize;

    /**
     * Creates the exception for a buffer that cannot hold the object.
     *
     * @param status the library's status code
     * @param statusName the status's name
     * @param message the library's message
     * @param requiredSize the object's size in bytes, or -1 if unknown
     */
    public BufferTooSmallException(int status, String statusName, String message, long requiredSize) {
        super(status, statusName, message);
        this.requiredSize = requiredSize;
    }

    /**
     * The object's size: a buffer with this many bytes remaining holds it.
     *
     * @return the size in bytes, or -1 if unknown
     */
    public long getRequiredSize() {
        return requiredSize;
    }
}
