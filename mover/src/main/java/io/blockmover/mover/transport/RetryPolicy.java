package io.blockmover.mover.transport;

import java.time.Duration;

/**
 * How often and how patiently a transport reconnects after a dropped connection (VCB's
 * MAX_RETRIES and RETRY_WAIT): at most {@code maxRetries} attempts in a row, the first after
 * {@code initialWait}, each next one twice as long, never longer than {@code maxWait}.
 * {@code onRetry} is told of each attempt (the proxy counts them for its metrics).
 */
public record RetryPolicy(int maxRetries, Duration initialWait, Duration maxWait, Runnable onRetry) {
    public static final RetryPolicy DEFAULT = new RetryPolicy(5, Duration.ofMillis(500), Duration.ofSeconds(30));
    public static final RetryPolicy NONE = new RetryPolicy(0, Duration.ZERO, Duration.ZERO);

    public RetryPolicy(int maxRetries, Duration initialWait, Duration maxWait) {
        this(maxRetries, initialWait, maxWait, () -> { });
    }

    public RetryPolicy {
        if (maxRetries < 0) {
            throw new IllegalArgumentException("max retries must not be negative: " + maxRetries);
        }
        if (initialWait.isNegative() || maxWait.compareTo(initialWait) < 0) {
            throw new IllegalArgumentException("retry wait must be >= 0 and max wait >= initial wait");
        }
    }

    /** The same policy, telling {@code observer} of each retry as well. */
    public RetryPolicy observed(Runnable observer) {
        Runnable before = onRetry;
        return new RetryPolicy(maxRetries, initialWait, maxWait, () -> {
            before.run();
            observer.run();
        });
    }

    /** The wait before retry number {@code attempt} (counting from 1). */
    public Duration delayBefore(int attempt) {
        if (attempt < 1) {
            throw new IllegalArgumentException("attempts count from 1: " + attempt);
        }
        Duration d = initialWait;
        for (int i = 1; i < attempt && d.compareTo(maxWait) < 0; i++) {
            d = d.multipliedBy(2);
        }
        return d.compareTo(maxWait) > 0 ? maxWait : d;
    }
}
