package io.blockmover.index.maintenance;

import java.util.List;

/** What rebuild-index recovered from the packs, and what it could not. */
public record RebuildReport(int packsScanned, long chunkRecords, long damagedRecords, int backupsRecovered, List<String> problems) {
    public RebuildReport {
        problems = List.copyOf(problems);
    }
}
