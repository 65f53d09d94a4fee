package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.FaultInjector;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Faults the emulated host injects on demand, set from the command line, the control API or a
 * test, and changeable while the server runs: added latency per request, a bandwidth limit, I/O
 * errors for reads touching a range, and a connection dropped after N requests or N bytes.
 * The drop faults are one-shot: counting starts when armed, across all connections, and the
 * request that crosses the limit has its connection closed; then the fault disarms itself.
 */
public final class EsxFaults implements FaultInjector {
    private static final int CMD_READ = 0;
    private static final int CMD_WRITE = 1;
    private static final int EIO = 5;
    private static final long DISARMED = Long.MIN_VALUE;

    /** Reads overlapping {@code [offset, offset+length)} of the export (or of any export) fail with EIO. */
    public record ReadError(Optional<String> export, long offset, long length) {
        public ReadError {
            if (offset < 0 || length <= 0) {
                throw new IllegalArgumentException("bad read-error range " + offset + "+" + length);
            }
        }

        boolean matches(String exportName, long off, long len) {
            return export.map(exportName::equals).orElse(true) && off < offset + length && offset < off + len;
        }
    }

    private volatile long latencyNanos;
    private volatile long bytesPerSecond;
    private final AtomicLong rateClock = new AtomicLong();
    private final List<ReadError> readErrors = new CopyOnWriteArrayList<>();
    private final AtomicLong requestsBeforeDrop = new AtomicLong(DISARMED);
    private final AtomicLong bytesBeforeDrop = new AtomicLong(DISARMED);
    private final java.util.Queue<String> failingTasks = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final AtomicLong busyTasks = new AtomicLong();

    /**
     * The next vSphere task of this method ({@code CreateSnapshot_Task}, {@code RemoveSnapshot_Task},
     * {@code ReconfigVM_Task}) runs, then ends in error instead of doing its work. Once per call.
     */
    public void failNextTask(String method) {
        failingTasks.add(method);
    }

    /** Takes an armed task failure for this method, if any. */
    public boolean takeTaskFailure(String method) {
        return failingTasks.remove(method);
    }

    /** The next {@code n} task-starting calls on a VM answer TaskInProgress, as for a VM busy with another task. */
    public void busyTasks(long n) {
        if (n < 0) {
            throw new IllegalArgumentException("busy task count must not be negative");
        }
        busyTasks.set(n);
    }

    /** Takes one armed TaskInProgress, if any. */
    public boolean takeBusy() {
        return busyTasks.getAndUpdate(n -> n > 0 ? n - 1 : 0) > 0;
    }

    public void latency(Duration perRequest) {
        if (perRequest.isNegative()) {
            throw new IllegalArgumentException("latency must not be negative");
        }
        latencyNanos = perRequest.toNanos();
    }

    /** Limits read and write payload to this many bytes per second over all connections; 0 lifts it. */
    public void rateLimit(long bytesPerSecond) {
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("rate must not be negative");
        }
        this.bytesPerSecond = bytesPerSecond;
    }

    public void addReadError(ReadError error) {
        readErrors.add(error);
    }

    /** Serves {@code n} more requests, then drops the connection of the next one. */
    public void dropAfterRequests(long n) {
        if (n < 0) {
            throw new IllegalArgumentException("request count must not be negative");
        }
        requestsBeforeDrop.set(n);
    }

    /** Drops the connection whose read or write makes the payload since now exceed {@code n} bytes. */
    public void dropAfterBytes(long n) {
        if (n < 0) {
            throw new IllegalArgumentException("byte count must not be negative");
        }
        bytesBeforeDrop.set(n);
    }

    /** Back to a healthy server. */
    public void clear() {
        latencyNanos = 0;
        bytesPerSecond = 0;
        readErrors.clear();
        requestsBeforeDrop.set(DISARMED);
        bytesBeforeDrop.set(DISARMED);
        failingTasks.clear();
        busyTasks.set(0);
    }

    /** A one-line description of the armed faults, for logs and the control API. */
    public String describe() {
        return "latency=" + Duration.ofNanos(latencyNanos) + " rate=" + bytesPerSecond + "B/s readErrors="
                + readErrors + " dropAfterRequests=" + armed(requestsBeforeDrop) + " dropAfterBytes="
                + armed(bytesBeforeDrop) + " failingTasks=" + failingTasks + " busyTasks=" + busyTasks.get();
    }

    private static String armed(AtomicLong counter) {
        long v = counter.get();
        return v == DISARMED ? "off" : Long.toString(v);
    }

    @Override
    public Fault onRequest(long connection, String export, int command, long offset, long length) {
        long payload = command == CMD_READ || command == CMD_WRITE ? length : 0;
        if (crosses(requestsBeforeDrop, 1) || (payload > 0 && crosses(bytesBeforeDrop, payload))) {
            return new Fault.Drop();
        }
        if (command == CMD_READ) {
            for (ReadError e : readErrors) {
                if (e.matches(export, offset, length)) {
                    return new Fault.Error(EIO, "injected read error at " + e.offset() + "+" + e.length());
                }
            }
        }
        long delay = latencyNanos + rateDelay(payload);
        return delay > 0 ? new Fault.Delay(delay) : Fault.None.INSTANCE;
    }

    /** Takes {@code amount} from an armed budget; true (and disarmed) when it would go negative. */
    private static boolean crosses(AtomicLong budget, long amount) {
        while (true) {
            long left = budget.get();
            if (left == DISARMED) {
                return false;
            }
            boolean over = left - amount < 0;
            if (budget.compareAndSet(left, over ? DISARMED : left - amount)) {
                return over;
            }
        }
    }

    /** A virtual clock: each request books its transfer time after the previous booking. */
    private long rateDelay(long payload) {
        long rate = bytesPerSecond;
        if (rate == 0 || payload == 0) {
            return 0;
        }
        long cost = (long) (payload * 1e9 / rate);
        while (true) {
            long now = System.nanoTime();
            long booked = rateClock.get();
            long start = booked - now > 0 ? booked : now;
            if (rateClock.compareAndSet(booked, start + cost)) {
                return start + cost - now;
            }
        }
    }
}
