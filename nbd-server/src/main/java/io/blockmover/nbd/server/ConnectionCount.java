package io.blockmover.nbd.server;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Client connections open on a server now, and the most open at once since the last reset:
 * what a host sees of a backup proxy's connection limit (an ESXi host caps NFC connections).
 * A connection counts from its accept to its close.
 */
public final class ConnectionCount {
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger peak = new AtomicInteger();

    void opened() {
        int now = open.incrementAndGet();
        peak.accumulateAndGet(now, Math::max);
    }

    void closed() {
        open.decrementAndGet();
    }

    public int open() {
        return open.get();
    }

    public int peak() {
        return peak.get();
    }

    /** Starts a new peak from the connections open now. */
    public void resetPeak() {
        peak.set(open.get());
    }
}
