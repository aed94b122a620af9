package s3os;

import java.util.logging.Level;

/**
 * How much the native library logs; each level includes those before it. {@link #WARN} adds
 * retries and their causes, {@link #INFO} every store's settings, credential resolution and
 * finished transfer with its timing, {@link #DEBUG} every request attempt, connection and part
 * plan, {@link #TRACE} every part and proxy exchange. No line ever contains a secret key,
 * session token, signature or proxy password.
 */
public enum LogLevel {
    /** Failures that cannot be reported otherwise, such as parts left after a failed abort. */
    ERROR(1, Level.SEVERE),
    /** Trouble: a retry and its cause, certificates left unverified. */
    WARN(2, Level.WARNING),
    /** What a store does: settings, credentials, finished transfers. */
    INFO(3, Level.INFO),
    /** Every request attempt, connection and part plan. */
    DEBUG(4, Level.FINE),
    /** Every part and proxy exchange. */
    TRACE(5, Level.FINEST);

    final int number;
    private final Level javaUtilLevel;

    LogLevel(int number, Level javaUtilLevel) {
        this.number = number;
        this.javaUtilLevel = javaUtilLevel;
    }

    /**
     * The {@code java.util.logging} level lines of this level are logged at.
     *
     * @return SEVERE, WARNING, INFO, FINE or FINEST
     */
    public Level toJavaUtilLogging() {
        return javaUtilLevel;
    }

    static LogLevel of(int number) {
        for (LogLevel level : values()) {
            if (level.number == number) {
                return level;
            }
        }
        return ERROR;
    }
}
