package io.blockmover.index.s3;

import java.time.Duration;

/**
 * Bucket locks: held locks are rewritten every {@code refresh}; one not rewritten for
 * {@code staleAfter} belongs to a dead process; a job waits up to {@code maxWait} for a conflicting
 * lock to go before it fails.
 */
public record LockTiming(Duration refresh, Duration staleAfter, Duration maxWait) {
    public LockTiming {
        if (staleAfter.compareTo(refresh.multipliedBy(2)) < 0) {
            throw new IllegalArgumentException("a lock must stay fresh for at least two refresh periods");
        }
    }

    public static LockTiming defaults() {
        return new LockTiming(Duration.ofMinutes(1), Duration.ofMinutes(5), Duration.ofSeconds(60));
    }
}
