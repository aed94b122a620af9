package s3os;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Some objects of a call on many objects failed ({@code uploadFiles}, {@code downloadFiles},
 * {@code removeObjects}); the others were not stopped by the failures. {@link #getStatus()} and
 * the message are those of the first object (in the order given) that failed, with how many
 * failed; its exception as a single-object call would have thrown it (such as
 * {@link java.nio.file.NoSuchFileException}) is the {@linkplain #getCause() cause}.
 * {@link #getItemStatuses()} has every object's status.
 */
public class BatchException extends S3osException {
    private static final long serialVersionUID = 1L;

    private final int[] itemStatuses;
    private final List<String> failedNames;

    /**
     * Creates the exception for a call on many objects.
     *
     * @param status the status of the first failed object
     * @param statusName the status's name
     * @param message the library's message
     * @param names the objects' names, in the call's order
     * @param itemStatuses each object's status, in the same order
     */
    public BatchException(
            int status, String statusName, String message, List<String> names, int[] itemStatuses) {
        super(status, statusName, message);
        this.itemStatuses = itemStatuses.clone();
        List<String> failed = new ArrayList<>();
        for (int i = 0; i < itemStatuses.length && i < names.size(); i++) {
            if (itemStatuses[i] != NativeStore.OK) {
                failed.add(names.get(i));
            }
        }
        this.failedNames = Collections.unmodifiableList(failed);
    }

    /**
     * Each object's status, in the order of the call's arguments: 0 ({@code S3OS_OK}) for the
     * objects that succeeded, else one of the constants of {@link S3osException}.
     *
     * @return a copy of the statuses
     */
    public int[] getItemStatuses() {
        return itemStatuses.clone();
    }

    /**
     * The names of the objects that failed, in the call's order.
     *
     * @return an unmodifiable list of names
     */
    public List<String> getFailedNames() {
        return failedNames;
    }
}
