package io.blockmover.index.maintenance;

import java.time.Duration;

/**
 * gc settings. {@code grace}: packs written more recently are neither deleted nor compacted
 * (belt and braces next to the gate, which already keeps gc out while backups are open).
 * {@code compactBelow}: packs whose live fraction is lower are rewritten. {@code waitMillis}:
 * how long to wait for open backups and restores before giving up.
 */
public record GcOptions(Duration grace, double compactBelow, long waitMillis) {
    public GcOptions {
        if (compactBelow < 0 || compactBelow > 1) {
            throw new IllegalArgumentException("compactBelow is a fraction 0..1");
        }
    }

    public static GcOptions defaults() {
        return new GcOptions(Duration.ofHours(1), 0.5, 60_000);
    }

    public GcOptions withGrace(Duration g) {
        return new GcOptions(g, compactBelow, waitMillis);
    }

    public GcOptions withCompactBelow(double f) {
        return new GcOptions(grace, f, waitMillis);
    }
}
