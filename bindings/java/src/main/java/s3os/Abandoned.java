package s3os;

import java.lang.ref.PhantomReference;
import java.lang.ref.ReferenceQueue;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * Releases the native handle of a stream that became unreachable without being closed: an
 * abandoned writer is aborted, so that its multipart upload does not stay on the server, and
 * an abandoned reader is freed. The release runs on a daemon thread, and only after the owner
 * became unreachable, so it never races the owner's own calls. (Java 8 has no
 * {@code java.lang.ref.Cleaner}; this is the same mechanism.)
 */
final class Abandoned extends PhantomReference<Object> {
    private static final ReferenceQueue<Object> QUEUE = new ReferenceQueue<>();
    /** Keeps each registration reachable until it is released or run. */
    private static final Set<Abandoned> REGISTERED =
            Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));

    static {
        Thread releaser = new Thread(Abandoned::releaseAbandoned, "s3os-abandoned-streams");
        releaser.setDaemon(true);
        releaser.start();
    }

    /** Releases a handle; must not refer to the owner (that would keep it reachable). */
    interface Release {
        void release(long handle);
    }

    private final Release release;
    private volatile long handle;

    Abandoned(Object owner, long handle, Release release) {
        super(owner, QUEUE);
        this.handle = handle;
        this.release = release;
        REGISTERED.add(this);
    }

    /** The owner released the handle itself: nothing is left to do. */
    void released() {
        handle = 0;
        REGISTERED.remove(this);
    }

    private static void releaseAbandoned() {
        while (true) {
            try {
                Abandoned abandoned = (Abandoned) QUEUE.remove();
                REGISTERED.remove(abandoned);
                long handle = abandoned.handle;
                abandoned.handle = 0;
                if (handle != 0) {
                    abandoned.release.release(handle);
                }
            } catch (InterruptedException e) {
                // Nobody interrupts this thread; keep serving the queue.
            } catch (RuntimeException | Error e) {
                // A failed release must not stop the releases of other streams.
            }
        }
    }
}
