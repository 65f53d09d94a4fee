package io.blockmover.nbd.esx;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * A sparse, lock-free map from grain index to {@link GrainVersion}: a top array of chunks of 128
 * grains (8 MiB of disk each), a chunk allocated on its first write. A 1 TiB disk costs a 512 KiB
 * top array plus about 0.5 KiB per touched chunk; lookups allocate nothing.
 */
final class GrainTable {
    private static final int CHUNK_SHIFT = 7;
    private static final int CHUNK = 1 << CHUNK_SHIFT;

    private final long grains;
    private final AtomicReferenceArray<AtomicReferenceArray<GrainVersion>> chunks;
    private final AtomicLong written = new AtomicLong();

    GrainTable(long grains) {
        long n = (grains + CHUNK - 1) >>> CHUNK_SHIFT;
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("disk too large: " + grains + " grains");
        }
        this.grains = grains;
        this.chunks = new AtomicReferenceArray<>((int) n);
    }

    /** Number of grains with a version. */
    long size() {
        return written.get();
    }

    /** Number of allocated chunks (each 128 references). */
    long chunkCount() {
        long c = 0;
        for (int i = 0; i < chunks.length(); i++) {
            if (chunks.getPlain(i) != null) {
                c++;
            }
        }
        return c;
    }

    GrainVersion get(long grain) {
        AtomicReferenceArray<GrainVersion> chunk = chunks.get((int) (grain >>> CHUNK_SHIFT));
        return chunk == null ? null : chunk.get((int) (grain & (CHUNK - 1)));
    }

    boolean compareAndSet(long grain, GrainVersion expected, GrainVersion update) {
        AtomicReferenceArray<GrainVersion> chunk = chunkFor(grain);
        boolean done = chunk.compareAndSet((int) (grain & (CHUNK - 1)), expected, update);
        if (done && expected == null) {
            written.incrementAndGet();
        }
        return done;
    }

    private AtomicReferenceArray<GrainVersion> chunkFor(long grain) {
        int i = (int) (grain >>> CHUNK_SHIFT);
        AtomicReferenceArray<GrainVersion> chunk = chunks.get(i);
        if (chunk == null) {
            chunk = new AtomicReferenceArray<>(CHUNK);
            if (!chunks.compareAndSet(i, null, chunk)) {
                chunk = chunks.get(i);
            }
        }
        return chunk;
    }

    /** The first grain in {@code [from, to)} that has a version, or -1; skips untouched chunks. */
    long nextWritten(long from, long to) {
        long g = from;
        long end = Math.min(to, grains);
        while (g < end) {
            AtomicReferenceArray<GrainVersion> chunk = chunks.get((int) (g >>> CHUNK_SHIFT));
            long chunkEnd = Math.min(end, ((g >>> CHUNK_SHIFT) + 1) << CHUNK_SHIFT);
            if (chunk != null) {
                for (; g < chunkEnd; g++) {
                    if (chunk.get((int) (g & (CHUNK - 1))) != null) {
                        return g;
                    }
                }
            }
            g = chunkEnd;
        }
        return -1;
    }

    /** A point-in-time copy; the versions themselves are shared (they are immutable or epoch-guarded). */
    GrainTable copy() {
        GrainTable c = new GrainTable(grains);
        for (int i = 0; i < chunks.length(); i++) {
            AtomicReferenceArray<GrainVersion> chunk = chunks.get(i);
            if (chunk != null) {
                AtomicReferenceArray<GrainVersion> copy = new AtomicReferenceArray<>(CHUNK);
                for (int j = 0; j < CHUNK; j++) {
                    copy.setPlain(j, chunk.get(j));
                }
                c.chunks.setPlain(i, copy);
            }
        }
        c.written.set(written.get());
        return c;
    }
}
