package io.blockmover.index.backup;

import io.blockmover.index.format.ChunkId;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.function.LongPredicate;

/**
 * What lets gc run beside backups (index/FORMAT.md "gc beside backups" says why it is safe):
 * <ul>
 * <li>the open writers, so gc can catch up with what those open when it condemned chunks had
 *     referenced before, and never sweeps the manifests of a backup still being committed;</li>
 * <li>the condemned chunks (digest prefixes): a writer's dedup lookup that hits one is a miss,
 *     so the writer stores a fresh copy instead of referencing one that may be swept;</li>
 * <li>the order of chunk-index writes: writers publish locations under the shared side, gc's
 *     compare-and-delete and compare-and-repoint run under the exclusive side, so a location a
 *     writer published is never deleted or overwritten by gc;</li>
 * <li>one gc at a time.</li>
 * </ul>
 */
public final class GcFence {
    /** Points of a gc run where a test (or anything watching) is told what gc is about to do. */
    public enum Phase {
        /** Chunks were condemned; gc is about to catch up with the writers that were open then. */
        CONDEMNED,
        /** Unreferenced index entries were deleted; compaction is next. */
        SWEPT,
        /** Compacted chunks were repointed; gc is about to wait for older readers, then delete packs. */
        SWITCHED
    }

    /** What gc needs from a writer that was open when it condemned chunks. */
    public interface OpenWriter {
        /**
         * Waits until the writer's chunk operations in flight have finished (any that start later
         * see the condemnation); false if they have not after {@code timeoutMillis}.
         */
        boolean quiesce(long timeoutMillis) throws InterruptedException;

        /**
         * Gives the digest prefix of every chunk the writer references so far, and of every chunk
         * it may still reuse from its parent (those come with no dedup lookup). Nothing once it
         * has finished: what it committed is in the catalog.
         */
        void references(LongConsumer prefixes) throws IOException;
    }

    private final Object monitor = new Object();
    private final Map<Long, OpenWriter> openWriters = new HashMap<>();
    private volatile LongPredicate condemned;
    private final ReentrantReadWriteLock indexWrites = new ReentrantReadWriteLock();
    private final ReentrantLock gcRun = new ReentrantLock();
    private volatile Consumer<Phase> observer = p -> { };

    public GcFence() {
    }

    /** Allocates the next backup id from {@code ids} and registers the writer under it. */
    public long openWriter(AtomicLong ids, OpenWriter writer) {
        synchronized (monitor) {
            long id = ids.getAndIncrement();
            openWriters.put(id, writer);
            return id;
        }
    }

    public void closeWriter(long id) {
        synchronized (monitor) {
            openWriters.remove(id);
        }
    }

    /** The writers open now, and the next id a writer will get: every id below it not open is finished. */
    public record Writers(Set<Long> open, long nextId) {
    }

    public Writers writers(AtomicLong ids) {
        synchronized (monitor) {
            return new Writers(Set.copyOf(openWriters.keySet()), ids.get());
        }
    }

    /**
     * Publishes the condemned digest prefixes and returns the writers open at that moment: every
     * writer opened later sees the condemnation in all its lookups (both under one monitor).
     */
    public List<OpenWriter> condemn(LongPredicate prefixes) {
        synchronized (monitor) {
            condemned = prefixes;
            return List.copyOf(openWriters.values());
        }
    }

    /** Ends the condemnation (the sweep is over, or gc gave up). */
    public void lift() {
        condemned = null;
    }

    /** True when a dedup hit on {@code id} must be treated as a miss. */
    public boolean isCondemned(ChunkId id) {
        LongPredicate c = condemned;
        return c != null && c.test(id.prefix());
    }

    /** Held by a writer while it writes chunk locations into the index. */
    public Lock publishing() {
        return indexWrites.readLock();
    }

    /** Held by gc while it compares and deletes or repoints chunk locations. */
    public Lock rewriting() {
        return indexWrites.writeLock();
    }

    /** Held for a whole gc run: one at a time. */
    public Lock gcRun() {
        return gcRun;
    }

    /** Watches gc's phases (called on gc's thread, which waits for it). For tests and diagnostics. */
    public void observeGc(Consumer<Phase> o) {
        observer = o == null ? p -> { } : o;
    }

    public void reached(Phase p) {
        observer.accept(p);
    }
}
