package io.blockmover.mover.transport;

import java.time.Duration;

/**
 * Limits on waiting: for a connection (including its handshake) and for the reply to each
 * request. A request that times out is treated like a dropped connection (reconnect, re-issue).
 */
public record Timeouts(Duration connect, Duration request) {
    public static final Timeouts DEFAULT = new Timeouts(Duration.ofSeconds(30), Duration.ofSeconds(120));

    public Timeouts {
        if (connect.isNegative() || connect.isZero() || request.isNegative() || request.isZero()) {
            throw new IllegalArgumentException("timeouts must be positive");
        }
    }
}
