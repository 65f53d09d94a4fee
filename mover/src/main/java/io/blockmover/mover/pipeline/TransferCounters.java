package io.blockmover.mover.pipeline;

import java.util.concurrent.atomic.LongAdder;

/**
 * Live byte counters of one disk's backup, restore or comparison, updated from many threads without
 * contention and read by progress displays. Every byte of the disk ends up in exactly one of
 * the "where it went" counters, so {@link Snapshot#done()} reaches {@link #total()} at the end.
 */
public final class TransferCounters {
    private final long total;
    private final long startNanos = System.nanoTime();
    private final LongAdder read = new LongAdder();
    private final LongAdder skippedHoles = new LongAdder();
    private final LongAdder skippedZeros = new LongAdder();
    private final LongAdder reusedFromParent = new LongAdder();
    private final LongAdder zeroChunks = new LongAdder();
    private final LongAdder deduplicated = new LongAdder();
    private final LongAdder newData = new LongAdder();
    private final LongAdder stored = new LongAdder();
    private final LongAdder completed = new LongAdder();
    private final LongAdder newChunks = new LongAdder();
    private final LongAdder knownChunks = new LongAdder();
    private final LongAdder readWaitNanos = new LongAdder();
    private final LongAdder fetchNanos = new LongAdder();
    private final LongAdder storeNanos = new LongAdder();

    public TransferCounters(long total) {
        this.total = total;
    }

    public long total() {
        return total;
    }

    /** Bytes fetched from the transport. */
    public void read(long n) {
        read.add(n);
    }

    /** Unallocated bytes never read. */
    public void skippedHoles(long n) {
        skippedHoles.add(n);
    }

    /** Bytes the source reported as zero, never read. */
    public void skippedZeros(long n) {
        skippedZeros.add(n);
    }

    /** Bytes taken unchanged from the parent backup (incrementals), never read. */
    public void reusedFromParent(long n) {
        reusedFromParent.add(n);
    }

    /** Bytes read that turned out to be all zeros. */
    public void zeroChunk(long n) {
        zeroChunks.add(n);
    }

    /** One chunk read that the repository already held, of {@code n} bytes. */
    public void deduplicated(long n) {
        deduplicated(n, 1);
    }

    /** {@code chunks} chunks read that the repository already held, of {@code n} bytes together. */
    public void deduplicated(long n, int chunks) {
        deduplicated.add(n);
        knownChunks.add(chunks);
    }

    /** One chunk read that was new to the repository, and what it cost there after compression. */
    public void newData(long logical, long storedBytes) {
        newData(logical, storedBytes, 1);
    }

    /** {@code chunks} chunks read that were new to the repository, and what they cost there together. */
    public void newData(long logical, long storedBytes, int chunks) {
        newData.add(logical);
        stored.add(storedBytes);
        newChunks.add(chunks);
    }

    /** Restore and comparison: bytes fully handled (written to the target, or compared). */
    public void completed(long n) {
        completed.add(n);
    }

    /**
     * Stage timing, the evidence for which stage limits a job: {@code readWait} is time the
     * reader stood still because every in-flight slot was taken (downstream is the bottleneck),
     * {@code fetch} the summed latency of source reads, {@code store} the summed worker time in
     * hashing, deduplication, compression and packing.
     */
    public void stageTimes(long readWait, long fetch, long store) {
        readWaitNanos.add(readWait);
        fetchNanos.add(fetch);
        storeNanos.add(store);
    }

    public Snapshot snapshot() {
        return new Snapshot(total, System.nanoTime() - startNanos, read.sum(), skippedHoles.sum(), skippedZeros.sum(),
                reusedFromParent.sum(), zeroChunks.sum(), deduplicated.sum(), newData.sum(), stored.sum(), completed.sum(),
                new Stages(readWaitNanos.sum(), fetchNanos.sum(), storeNanos.sum()), newChunks.sum(), knownChunks.sum());
    }

    /** Summed nanoseconds per stage; see {@link #stageTimes}. */
    public record Stages(long readWaitNanos, long fetchNanos, long storeNanos) {}

    /** A consistent-enough view of the counters at one moment. */
    public record Snapshot(long total, long elapsedNanos, long read, long skippedHoles, long skippedZeros,
                           long reusedFromParent, long zeroChunks, long deduplicated, long newData, long stored,
                           long completed, Stages stages, long newChunks, long knownChunks) {

        /** Bytes of the disk accounted for so far. */
        public long done() {
            return skippedHoles + skippedZeros + reusedFromParent + zeroChunks + deduplicated + newData + completed;
        }

        public double seconds() {
            return elapsedNanos / 1e9;
        }

        /** Disk bytes covered per second (decimal MB), the rate a user compares with the disk size. */
        public double megabytesPerSecond() {
            return seconds() == 0 ? 0 : done() / 1e6 / seconds();
        }

        /** Seconds left at the rate so far; NaN before anything is known. */
        public double etaSeconds() {
            long done = done();
            return done == 0 ? Double.NaN : (total - done) * seconds() / done;
        }
    }
}
