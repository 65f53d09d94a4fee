package io.blockmover.index.maintenance;

import java.util.List;

/** Backups kept and removed by prune (removed ones are gone from the catalog; gc frees their data). */
public record PruneReport(List<Long> kept, List<Long> removed, boolean dryRun) {
    public PruneReport {
        kept = List.copyOf(kept);
        removed = List.copyOf(removed);
    }
}
