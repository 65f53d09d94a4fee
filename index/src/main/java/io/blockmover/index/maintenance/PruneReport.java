package io.blockmover.index.maintenance;

import java.util.List;

/**
 * Backups kept and removed by prune (removed ones are gone from the catalog; gc frees their data).
 * {@code inUse} are kept although the retention would remove them, because something holds them
 * (an export); a later prune removes them once released.
 */
public record PruneReport(List<Long> kept, List<Long> removed, List<InUse> inUse, boolean dryRun) {
    public PruneReport {
        kept = List.copyOf(kept);
        removed = List.copyOf(removed);
        inUse = List.copyOf(inUse);
    }

    /** A backup the retention would remove, kept because it is held for {@code why}. */
    public record InUse(long backupId, String why) {
        @Override
        public String toString() {
            return "backup " + backupId + " is in use (" + why + ")";
        }
    }
}
