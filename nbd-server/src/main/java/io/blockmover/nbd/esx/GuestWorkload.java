package io.blockmover.nbd.esx;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The guest OS writing to its disks while backups run: whole 64 KiB grains of generated data
 * (alternately text-like and random) at a set rate, spread over every disk of every VM. The
 * n-th grain written is a pure function of (seed, n), and {@link #writeGrains} lets a test
 * drive it step by step without a thread.
 */
public final class GuestWorkload implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GuestWorkload.class);
    private static final long SALT = 0x67756573L;
    private static final long TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    /** Where the writes go: grains anywhere, or disk after disk from the start, wrapping around. */
    public enum Pattern {
        RANDOM, SEQUENTIAL;

        public static Pattern parse(String name) {
            try {
                return valueOf(name.trim().toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown churn pattern '" + name + "' (random or sequential)");
            }
        }
    }

    private final EsxHost host;
    private final long seed;
    private volatile Pattern pattern;
    private final AtomicLong counter = new AtomicLong();
    private volatile long bytesPerSecond;
    private Thread thread;

    public GuestWorkload(EsxHost host, long seed, Pattern pattern) {
        this.host = host;
        this.seed = seed;
        this.pattern = pattern;
    }

    public long grainsWritten() {
        return counter.get();
    }

    public long rate() {
        return bytesPerSecond;
    }

    public Pattern pattern() {
        return pattern;
    }

    public void pattern(Pattern pattern) {
        this.pattern = java.util.Objects.requireNonNull(pattern, "pattern");
    }

    /** Writes the next {@code n} grains of the workload now. */
    public void writeGrains(long n) {
        List<VirtualDisk> disks = new ArrayList<>();
        host.vms().forEach(vm -> disks.addAll(vm.disks()));
        if (disks.isEmpty()) {
            return;
        }
        for (long i = 0; i < n; i++) {
            long k = counter.getAndIncrement();
            VirtualDisk disk = disks.get((int) Long.remainderUnsigned(k, disks.size()));
            long grains = disk.content().grainCount();
            long h = Generators.derive(seed ^ SALT, k, 0);
            long grain = switch (pattern()) {
                case RANDOM -> Long.remainderUnsigned(h, grains);
                case SEQUENTIAL -> Long.remainderUnsigned(k / disks.size(), grains);
            };
            disk.guestWrite(grain, (h & 1) == 0, Generators.derive(seed ^ SALT, k, 1), true);
        }
    }

    /** Sets the write rate in bytes per second (0 pauses), starting the writer thread if needed. */
    public synchronized void rate(long bytesPerSecond) {
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("rate must not be negative");
        }
        this.bytesPerSecond = bytesPerSecond;
        if (bytesPerSecond > 0 && thread == null) {
            thread = Thread.ofPlatform().daemon().name("esx-guest-workload").start(this::run);
        }
    }

    private void run() {
        long owedBytes = 0;
        long last = System.nanoTime();
        try {
            while (!Thread.currentThread().isInterrupted()) {
                TimeUnit.NANOSECONDS.sleep(TICK_NANOS);
                long now = System.nanoTime();
                // cap the debt at one second so a paused JVM does not cause a burst
                owedBytes = Math.min(bytesPerSecond, owedBytes + (now - last) * bytesPerSecond / 1_000_000_000L);
                last = now;
                long grains = owedBytes / Grains.SIZE;
                if (grains > 0) {
                    writeGrains(grains);
                    owedBytes -= grains * Grains.SIZE;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.error("guest workload stopped: {}", e.toString());
        }
    }

    @Override
    public synchronized void close() {
        if (thread != null) {
            thread.interrupt();
            try {
                thread.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            thread = null;
        }
    }
}
