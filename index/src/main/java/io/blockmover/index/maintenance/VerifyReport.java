package io.blockmover.index.maintenance;

import java.util.List;
import java.util.Set;

/**
 * What verify found. {@code damaged} lists each unreadable chunk with its users;
 * {@code brokenBackups} are the backups that cannot be restored exactly; every other backup can.
 */
public record VerifyReport(long chunksChecked, long bytesChecked, List<DamagedChunk> damaged, List<String> manifestProblems,
                           Set<Long> brokenBackups) {
    public VerifyReport {
        damaged = List.copyOf(damaged);
        manifestProblems = List.copyOf(manifestProblems);
        brokenBackups = Set.copyOf(brokenBackups);
    }

    public boolean ok() {
        return damaged.isEmpty() && manifestProblems.isEmpty();
    }
}
