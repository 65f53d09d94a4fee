package io.blockmover.mover.vsphere;

import java.time.Duration;

/**
 * VCB's retry of busy resources: a call refused because the VM runs another task
 * (TaskInProgress) is tried again after {@code retryWait}, at most {@code maxRetries} times.
 */
public record BusyRetry(int maxRetries, Duration retryWait) {
    /** VCB's defaults: MAX_RETRIES=10, RETRY_WAIT=5 s. */
    public static final BusyRetry DEFAULT = new BusyRetry(10, Duration.ofSeconds(5));

    public BusyRetry {
        if (maxRetries < 0 || retryWait.isNegative()) {
            throw new IllegalArgumentException("retries and wait must not be negative");
        }
    }
}
