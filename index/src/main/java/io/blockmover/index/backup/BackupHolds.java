package io.blockmover.index.backup;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Backups something outside the index still needs for longer than one read (an instant-restore
 * export, whose writable overlay only makes sense on top of its backup): prune keeps them and says
 * why. A reader's snapshot already keeps their data readable; a hold keeps them in the catalog.
 */
public final class BackupHolds {
    private final Map<Long, Map<String, Integer>> held = new HashMap<>();

    /** Holds {@code backupId} for {@code why} (e.g. "exported") until the returned hold is closed. */
    public synchronized Hold hold(long backupId, String why) {
        held.computeIfAbsent(backupId, k -> new HashMap<>()).merge(why, 1, Integer::sum);
        return new Hold(backupId, why);
    }

    /** Why the backup is held (the reasons joined), or empty when nothing holds it. */
    public synchronized Optional<String> heldFor(long backupId) {
        Map<String, Integer> reasons = held.get(backupId);
        return reasons == null ? Optional.empty() : Optional.of(String.join(", ", reasons.keySet()));
    }

    private synchronized void release(long backupId, String why) {
        Map<String, Integer> reasons = held.get(backupId);
        if (reasons == null) {
            return;
        }
        reasons.computeIfPresent(why, (k, n) -> n == 1 ? null : n - 1);
        if (reasons.isEmpty()) {
            held.remove(backupId);
        }
    }

    /** One hold; closing it twice releases it once. */
    public final class Hold implements AutoCloseable {
        private final long backupId;
        private final String why;
        private boolean released;

        private Hold(long backupId, String why) {
            this.backupId = backupId;
            this.why = why;
        }

        @Override
        public void close() {
            synchronized (BackupHolds.this) {
                if (!released) {
                    released = true;
                    release(backupId, why);
                }
            }
        }
    }
}
