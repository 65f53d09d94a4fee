package io.blockmover.index.maintenance;

import java.time.Duration;

/**
 * gc settings. {@code grace}: packs written more recently are neither deleted nor compacted, nor
 * are the chunks in them swept (belt and braces: in this process, gc knows the open backups
 * and their packs exactly; the window also covers a read-only open in another process).
 * {@code compactBelow}: packs whose live fraction is lower are rewritten. {@code waitMillis}: how
 * long gc waits for another gc or for a backup's chunk writes in flight (then it fails, having
 * collected nothing), and for restores opened before it changed the index (then the unused packs
 * are left for the next gc).
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
