package s3os;

/**
 * Receives the native library's log lines; see {@link S3osLog#setListener}.
 *
 * <p>It runs on the library's own log thread ("s3os-log"), one line at a time and in order,
 * never on the thread of a transfer. An exception it throws is caught and the line dropped.
 */
@FunctionalInterface
public interface LogListener {
    /**
     * Called for each line.
     *
     * @param level the line's level
     * @param message the line: one line of text, without a timestamp
     */
    void log(LogLevel level, String message);
}
