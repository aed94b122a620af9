package s3os;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Logger;

/**
 * Where the native library's log lines go. By default they go where the environment variable
 * {@code S3OS_LOG} says (stderr at that level, or the file {@code S3OS_LOG_FILE} names), and
 * nowhere without it. {@link #setListener} routes them to Java instead:
 *
 * <pre>{@code
 * S3osLog.setListener(S3osLog.javaUtilLogging(), LogLevel.DEBUG); // to Logger "s3os"
 * S3osLog.setListener((level, message) -> System.err.println(level + " " + message),
 *         LogLevel.WARN);
 * S3osLog.setListener(null, null); // back to S3OS_LOG
 * }</pre>
 */
public final class S3osLog {
    /** Listeners by the registration that installed them; the library names it with each line. */
    private static final Map<Long, LogListener> LISTENERS = new ConcurrentHashMap<>();
    private static final AtomicLong REGISTRATIONS = new AtomicLong();
    /** Orders the calls made outside the log thread (the library serves them in turn). */
    private static final ReentrantLock ORDER = new ReentrantLock();
    private static final ThreadLocal<Boolean> IN_LISTENER = new ThreadLocal<>();

    private S3osLog() {}

    /**
     * Routes the library's log lines at {@code level} and more severe to {@code listener}, or,
     * with a null listener, back to where {@code S3OS_LOG} sends them. When this method
     * returns, every line logged before it was called has reached the previous listener,
     * which is then never called again; called from a listener, it returns at once and the
     * switch happens after that listener returns.
     *
     * @param listener receives the lines (on the library's log thread); null to stop
     * @param level the most detailed lines to deliver; ignored when {@code listener} is null
     * @throws IllegalArgumentException if {@code listener} is given without a level
     */
    public static void setListener(LogListener listener, LogLevel level) {
        if (listener != null && level == null) {
            throw new IllegalArgumentException("level must not be null with a listener");
        }
        boolean fromListener = Boolean.TRUE.equals(IN_LISTENER.get());
        if (!fromListener) {
            ORDER.lock();
        }
        try {
            long registration = REGISTRATIONS.incrementAndGet();
            if (listener != null) {
                LISTENERS.put(registration, listener);
            }
            byte[][] errorOut = new byte[1][];
            int status = NativeStore.setLogListener(
                    listener == null ? 0 : level.number, registration, errorOut);
            if (status != NativeStore.OK) {
                LISTENERS.remove(registration);
                try {
                    NativeStore.check(status, errorOut, "log", null);
                } catch (IOException e) {
                    throw new IllegalStateException(e.getMessage(), e);
                }
            }
            if (!fromListener) {
                // Every line of an earlier registration has been delivered.
                LISTENERS.keySet().removeIf(earlier -> earlier < registration);
            }
        } finally {
            if (!fromListener) {
                ORDER.unlock();
            }
        }
    }

    /**
     * A listener that logs each line to the {@code java.util.logging} logger named
     * {@code "s3os"}, at {@link LogLevel#toJavaUtilLogging()}.
     *
     * @return the listener
     */
    public static LogListener javaUtilLogging() {
        Logger logger = Logger.getLogger("s3os");
        return (level, message) -> logger.log(level.toJavaUtilLogging(), message);
    }

    /** Called by the JNI glue on the library's log thread for each line. */
    static void dispatch(long registration, int level, byte[] message) {
        LogListener listener = LISTENERS.get(registration);
        if (listener == null) {
            return;
        }
        IN_LISTENER.set(Boolean.TRUE);
        try {
            listener.log(LogLevel.of(level), NativeStore.string(message));
        } catch (Throwable dropped) {
            // A log line has nowhere to report a failure to.
        } finally {
            IN_LISTENER.remove();
        }
    }
}
