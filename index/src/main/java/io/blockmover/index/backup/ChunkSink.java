package io.blockmover.index.backup;

import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.pack.PackRecords;
import io.blockmover.index.pack.PackWriter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Lock;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * The new chunks of one backup, deduplicated and appended to one of the backup's open packs. When
 * a pack reaches its target size it is sealed (fsync) and only then are its chunk locations
 * published to the index, where every other writer's dedup sees them; until then the chunks
 * are in {@code pending}, which dedups this backup's own threads against each other.
 *
 * <p>Each thread appends to a lane of its own: a lane is an open pack that one thread at a time
 * borrows, and a new lane opens only when every existing one is busy, so there are as many open
 * packs as threads ever stored at the same moment (one, for a single thread). One shared pack
 * behind one lock made the workers queue for it: in a compression-bound backup of a file system
 * (4 workers, 2 cores) they spent 3.2 s of 6.6 CPU-s waiting to enter that lock, about 4 ms a
 * time, as every hand-over meant a parked thread woken up on a busy core.
 */
final class ChunkSink {
    private final RepoContext ctx;
    private final Set<ChunkId> pending = ConcurrentHashMap.newKeySet();
    /** Lanes not borrowed right now. */
    private final ConcurrentLinkedQueue<Lane> idle = new ConcurrentLinkedQueue<>();
    /** Every lane ever opened, for flush and abort. */
    private final ConcurrentLinkedQueue<Lane> lanes = new ConcurrentLinkedQueue<>();
    private volatile Throwable failure;
    /**
     * Threads storing a chunk of this backup right now (hashing, compressing, appending). When there
     * are at least as many as cores, the backup is compression-bound: {@code auto} then takes LZ4.
     */
    private final AtomicInteger working = new AtomicInteger();
    private static final int CORES = Runtime.getRuntime().availableProcessors();

    /** An open pack (or none yet); its monitor is taken by the borrower and by flush and abort. */
    private static final class Lane {
        PackWriter current;
    }

    ChunkSink(RepoContext ctx) {
        this.ctx = ctx;
    }

    /**
     * Stores {@code plain} under {@code id} unless the repository or this backup already has it.
     * Returns the bytes appended to the pack, or -1 for a duplicate.
     */
    /** A thread starts hashing and storing a chunk; pair with {@link #endWork()}. */
    void beginWork() {
        working.incrementAndGet();
    }

    void endWork() {
        working.decrementAndGet();
    }

    long store(ChunkId id, ByteBuffer plain, ChunkCodec codec) throws IOException {
        // Pending before index: publication writes the index before it clears pending, so a
        // chunk is always found in one of the two. A chunk gc has condemned is not reused from
        // the index (gc may be about to sweep that copy): it is stored afresh.
        if (pending.contains(id) || (!ctx.fence().isCondemned(id) && ctx.db().contains(id, codec.lookupScratch()))
                || !pending.add(id)) {
            return -1;
        }
        ByteBuffer[] record = PackRecords.frameChunk(id, codec.encode(id, plain, working.get() >= CORES));
        long length = record[0].remaining() + record[1].remaining();
        PackWriter full = null;
        Lane lane = borrow();
        try {
            synchronized (lane) {
                checkHealthy();
                try {
                    if (lane.current == null) {
                        lane.current = newPack();
                    }
                    lane.current.append(id, record);
                } catch (IOException | RuntimeException e) {
                    fail(e);
                    throw e;
                }
                if (lane.current.size() >= ctx.packTargetSize()) {
                    full = lane.current;
                    lane.current = null;
                }
            }
        } finally {
            idle.add(lane);
        }
        if (full != null) {
            seal(full);
        }
        return length;
    }

    private Lane borrow() {
        Lane lane = idle.poll();
        if (lane == null) {
            lane = new Lane();
            lanes.add(lane);
        }
        return lane;
    }

    /** Registered as in progress before the file exists, so gc never sees it unregistered and unpublished. */
    private PackWriter newPack() throws IOException {
        long packId = ctx.newPackId();
        ctx.packsInProgress().started(packId);
        try {
            return PackWriter.create(ctx.packs(), packId);
        } catch (IOException | RuntimeException e) {
            ctx.packsInProgress().settled(packId); // a file left behind holds nothing anyone uses: gc's
            throw e;
        }
    }

    /** Seals the open packs (if any) and publishes them; after this every stored chunk is durable and indexed. */
    void flush() throws IOException {
        List<PackWriter> open = new ArrayList<>();
        for (Lane lane : lanes) {
            synchronized (lane) {
                checkHealthy();
                if (lane.current != null) {
                    open.add(lane.current);
                    lane.current = null;
                }
            }
        }
        if (open.size() == 1) {
            seal(open.getFirst());
            return;
        }
        // One lane per thread leaves several partial packs: their fsyncs run at once (on one
        // filesystem they share a journal commit), not one after the other in the commit's time.
        List<Thread> sealing = new ArrayList<>();
        List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
        for (PackWriter p : open) {
            sealing.add(Thread.ofVirtual().start(() -> {
                try {
                    seal(p);
                } catch (Throwable t) {
                    failures.add(t);
                }
            }));
        }
        boolean interrupted = false;
        for (Thread t : sealing) {
            while (true) { // a seal in flight is finished, not left half-published
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (!failures.isEmpty()) {
            Throwable f = failures.getFirst();
            if (f instanceof IOException io) {
                throw io;
            }
            if (f instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException("sealing a pack failed: " + f, f);
        }
    }

    private void seal(PackWriter pack) throws IOException {
        try {
            publish(pack);
        } finally {
            ctx.packsInProgress().settled(pack.packId());
        }
    }

    private void publish(PackWriter pack) throws IOException {
        List<PackWriter.Entry> entries;
        try {
            entries = pack.seal();
        } catch (IOException | RuntimeException e) {
            pack.abandon();
            fail(e);
            throw e;
        }
        try {
            // Named in the shared index before this process's dedup can hand the chunks to a manifest.
            ctx.peers().packSealed(pack.packId(), entries);
        } catch (IOException | RuntimeException e) {
            fail(e);
            throw e;
        }
        Lock publishing = ctx.fence().publishing();
        publishing.lock();
        try (WriteBatch batch = new WriteBatch()) {
            for (PackWriter.Entry e : entries) {
                batch.put(ctx.db().chunks(), e.id().bytes(), e.location().encode());
            }
            // Not synced: the commit's synced batch comes later in the same WAL and makes this durable too;
            // a crash before it leaves locations of durable but unreferenced chunks, which gc removes.
            ctx.db().write(batch, false);
        } catch (RuntimeException | RocksDBException e) {
            // The pack is durable; whether the index write landed is unknown, so gc, not us, decides its fate.
            fail(e);
            throw new RepositoryException("cannot publish pack " + Long.toHexString(pack.packId()) + ": " + e.getMessage(), e);
        } finally {
            publishing.unlock();
        }
        for (PackWriter.Entry e : entries) {
            pending.remove(e.id());
        }
    }

    /** Drops the open packs unsealed; sealed packs stay (their chunks are indexed and reusable). */
    void abort() {
        // First, so that a store taking a lane after this point stops before it opens a pack.
        if (failure == null) {
            failure = new IllegalStateException("aborted");
        }
        for (Lane lane : lanes) {
            synchronized (lane) {
                if (lane.current != null) {
                    lane.current.abandon();
                    ctx.packsInProgress().settled(lane.current.packId());
                    lane.current = null;
                }
            }
        }
        pending.clear();
    }

    void fail(Throwable t) {
        if (failure == null) {
            failure = t;
        }
    }

    void checkHealthy() {
        Throwable f = failure;
        if (f != null) {
            throw new RepositoryException("the backup cannot continue after an earlier failure: " + f.getMessage(), f);
        }
    }
}
