package io.blockmover.index.backup;

import io.blockmover.index.db.IndexSnapshot;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.manifest.ManifestKeys;
import io.blockmover.index.manifest.ManifestStore;
import io.blockmover.index.manifest.StagedManifest;
import io.blockmover.index.pack.PackWriter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongConsumer;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One backup (restore point) of one VM being written: add its disks, feed each disk's chunks
 * from any threads, then {@link #commit()}. Commit makes packs durable first, writes the
 * manifests, and makes the backup visible with one synced catalog write; until then nothing of
 * it is visible, and a crash or {@link #abort()} leaves only data gc reclaims. Several writers
 * may be open on one repository at once.
 */
public final class BackupWriter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BackupWriter.class);
    /** Manifest segments per intermediate batch: bounds the batch to 8 MiB. */
    private static final int SEGMENTS_PER_BATCH = 256;

    private enum State { OPEN, COMMITTING, COMMITTED, ABORTED }

    private final RepoContext ctx;
    private final BackupSpec spec;
    private final BackupRecord parent;
    private final long id;
    private final Instant started = Instant.now();
    private final ChunkSink sink;
    /** Copy-on-write: gc's catch-up reads it without the writer's monitor, which commit holds for long. */
    private final List<DiskWriter> disks = new CopyOnWriteArrayList<>();
    /**
     * Chunk operations (put, reuse, zeros) share it; gc takes it alone for an instant to let those
     * in flight finish ({@link Catchup#quiesce}); release takes it alone so no catch-up reads the
     * staged manifests or the parent's snapshot while they are closed.
     */
    private final ReentrantReadWriteLock activity = new ReentrantReadWriteLock();
    private volatile boolean released;
    private final long gateStamp;
    /** Keeps other processes' gc and prune out of the repository while this backup is open. */
    private final RepositoryPeers.Lease lease;
    /** The index when the writer opened, for the parent's manifest: a prune of the parent meanwhile does not affect reuse. */
    private final IndexSnapshot parentIndex;
    private final ManifestStore parentManifests;
    private volatile State state = State.OPEN;
    /** The manifest pack commit created (0: none), settled once the backup is visible or abandoned. */
    private long manifestPackStarted;

    /** Opened by the repository, which has entered its maintenance gate for us. */
    public BackupWriter(RepoContext ctx, BackupSpec spec, long gateStamp, RepositoryPeers.Lease lease) {
        this.ctx = ctx;
        this.lease = lease;
        this.spec = spec;
        this.gateStamp = gateStamp;
        this.sink = new ChunkSink(ctx);
        BackupRecord p = null;
        // Registered before any lookup, so gc either catches up with this writer or it sees the
        // condemnation; gc's catch-up waits until the parent is known (the lock).
        activity.readLock().lock();
        try {
            this.id = ctx.fence().openWriter(ctx.nextBackupId(), new Catchup());
            if (spec.parentId() != BackupRecord.NO_PARENT) {
                this.parentIndex = IndexSnapshot.of(ctx.db(), ctx.readOnly());
                this.parentManifests = new ManifestStore(parentIndex);
                p = parentManifests.backup(spec.parentId()).filter(r -> r.vmId().equals(spec.vmId())).orElse(null);
                this.parent = p;
            } else {
                this.parentIndex = null;
                this.parentManifests = null;
                this.parent = null;
            }
        } finally {
            activity.readLock().unlock();
        }
        if (spec.parentId() != BackupRecord.NO_PARENT && p == null) {
            state = State.ABORTED;
            Optional<BackupRecord> other = parentManifests.backup(spec.parentId());
            release();
            throw new RepositoryException(other.isEmpty() ? "parent backup " + spec.parentId() + " does not exist"
                    : "parent backup " + spec.parentId() + " is of VM " + other.get().vmId() + ", not " + spec.vmId());
        }
    }

    /** The id this backup will have once committed. */
    public long id() {
        return id;
    }

    public BackupSpec spec() {
        return spec;
    }

    public synchronized DiskWriter addDisk(DiskSpec disk) throws IOException {
        checkOpen();
        for (DiskWriter d : disks) {
            if (d.spec().diskId().equals(disk.diskId())) {
                throw new IllegalArgumentException("disk " + disk.diskId() + " was already added");
            }
        }
        DiskRecord parentDisk = parent == null ? null : parent.disk(disk.diskId()).orElse(null);
        int index = disks.size();
        long chunks = DiskRecord.chunkCount(disk.capacity(), ctx.chunkSize());
        StagedManifest staged = new StagedManifest(ctx.tmpDir().resolve(id + "-" + index + ".manifest"), chunks);
        DiskWriter w = new DiskWriter(ctx, sink, this, index, disk, staged, parentDisk, parent == null ? BackupRecord.NO_PARENT : parent.id(),
                parentManifests);
        disks.add(w);
        return w;
    }

    /**
     * Makes the backup visible and returns its id. Fails (and aborts) if any chunk of any disk
     * was never given, or on an I/O error; the repository is then unchanged as far as readers see.
     */
    public synchronized long commit() throws IOException {
        checkOpen();
        if (disks.isEmpty()) {
            throw new IllegalStateException("a backup needs at least one disk");
        }
        for (DiskWriter d : disks) {
            long missing = d.staged().firstMissing();
            if (missing >= 0) {
                throw new IllegalStateException("disk " + d.spec().diskId() + ": the chunk at offset " + missing * d.chunkSize()
                        + " was never written; put, putZero or reuse every chunk before commit");
            }
        }
        state = State.COMMITTING;
        try {
            // 1. Every new chunk durable in a sealed pack and indexed, while step 2 runs: neither
            //    needs the other until the catalog write, and on an object store each is an upload.
            Throwable[] flushFailure = new Throwable[1];
            Thread flushing = Thread.ofVirtual().name("flush-" + id).start(() -> {
                try {
                    sink.flush();
                } catch (Throwable t) {
                    flushFailure[0] = t;
                }
            });
            // 2. Manifests into the index (invisible until the catalog entry exists) and into this
            //    backup's own manifest pack, sealed before the catalog write, for rebuild-index.
            // In progress until the catalog names it: gc running beside us must not take it for an orphan.
            BackupRecord record;
            try {
                long manifestPackId = ctx.newPackId();
                ctx.packsInProgress().started(manifestPackId);
                manifestPackStarted = manifestPackId;
                PackWriter manifestPack = PackWriter.create(ctx.packs(), manifestPackId);
                try {
                    List<DiskRecord> records = new ArrayList<>();
                    byte[] buf = new byte[ManifestKeys.SEGMENT_ENTRIES * ManifestKeys.ENTRY];
                    for (DiskWriter d : disks) {
                        records.add(d.record(writeManifest(d, buf, manifestPack)));
                    }
                    record = new BackupRecord(id, spec.vmId(), spec.label(), spec.parentId(), started, Instant.now(),
                            manifestPack.packId(), records);
                    manifestPack.appendMeta(PackFormat.KIND_BACKUP, ManifestKeys.packKey(id, 0, 0), ByteBuffer.wrap(record.encode()));
                    manifestPack.seal();
                } catch (IOException | RuntimeException e) {
                    manifestPack.abandon();
                    throw e;
                }
            } finally {
                Joins.uninterruptibly(List.of(flushing)); // nothing of the flush is left running once commit returns
            }
            if (flushFailure[0] instanceof IOException io) {
                throw io;
            } else if (flushFailure[0] instanceof RuntimeException re) {
                throw re;
            } else if (flushFailure[0] != null) {
                throw new IOException("flushing backup " + id + " failed: " + flushFailure[0], flushFailure[0]);
            }
            // 3. Visible to the other processes sharing the repository (a bucket's backup object), then
            //    the one synced write that makes the backup visible here.
            ctx.peers().committing(record);
            try (WriteBatch batch = new WriteBatch()) {
                batch.put(ctx.db().catalog(), ManifestKeys.catalogKey(id), record.encode());
                ctx.db().write(batch, true);
            }
            log.debug("committed backup {} of {} ({} disks)", id, spec.vmId(), record.disks().size());
            state = State.COMMITTED;
            return id;
        } catch (IOException | RuntimeException | RocksDBException e) {
            sink.fail(e);
            if (e instanceof IOException io) {
                throw io;
            }
            if (e instanceof RepositoryException re) {
                throw re;
            }
            throw new RepositoryException("commit of backup " + id + " failed: " + e.getMessage(), e);
        } finally {
            if (state != State.COMMITTED) {
                state = State.OPEN; // let finish() abort it
                abort();
            } else {
                finish();
            }
        }
    }

    /** Streams the staged manifest into the index; returns the number of zero chunks. */
    private long writeManifest(DiskWriter d, byte[] buf, PackWriter pack) throws IOException, RocksDBException {
        StagedManifest staged = d.staged();
        int segments = ManifestKeys.segments(staged.chunkCount());
        long zeros = 0;
        WriteBatch batch = new WriteBatch();
        try {
            for (int s = 0; s < segments; s++) {
                int len = staged.readSegment(s, buf);
                for (int off = 0; off < len; off += ManifestKeys.ENTRY) {
                    if (io.blockmover.index.format.ChunkId.isZeroMarker(buf, off)) {
                        zeros++;
                    }
                }
                ManifestStore.putSegment(batch, ctx.db(), id, d.index(), s, buf, len);
                pack.appendMeta(PackFormat.KIND_MANIFEST, ManifestKeys.packKey(id, d.index(), s), ByteBuffer.wrap(buf, 0, len));
                if ((s + 1) % SEGMENTS_PER_BATCH == 0) {
                    ctx.db().write(batch, false);
                    batch.close();
                    batch = new WriteBatch();
                }
            }
            ctx.db().write(batch, false);
        } finally {
            batch.close();
        }
        return zeros;
    }

    /** Abandons the backup: nothing becomes visible; written chunks stay for dedup or gc. Idempotent. */
    public synchronized void abort() {
        if (state != State.OPEN) {
            return;
        }
        state = State.ABORTED;
        sink.abort();
        finish();
    }

    private void finish() {
        if (manifestPackStarted != 0) {
            ctx.packsInProgress().settled(manifestPackStarted);
        }
        release();
    }

    private void release() {
        activity.writeLock().lock();
        try {
            released = true;
            for (DiskWriter d : disks) {
                try {
                    d.staged().close();
                } catch (IOException e) {
                    log.warn("cannot remove staged manifest of backup {}: {}", id, e.getMessage());
                }
            }
            if (parentIndex != null) {
                parentIndex.close();
            }
        } finally {
            activity.writeLock().unlock();
        }
        ctx.fence().closeWriter(id);
        ctx.gate().exitShared(gateStamp);
        lease.close();
    }

    /** Around each chunk operation of a disk of this backup. */
    void enter() {
        activity.readLock().lock();
    }

    void exit() {
        activity.readLock().unlock();
    }

    /** What gc needs from this writer when it was open as gc condemned chunks. */
    private final class Catchup implements GcFence.OpenWriter {
        @Override
        public boolean quiesce(long timeoutMillis) throws InterruptedException {
            if (!activity.writeLock().tryLock(timeoutMillis, TimeUnit.MILLISECONDS)) {
                return false;
            }
            activity.writeLock().unlock();
            return true;
        }

        @Override
        public void references(LongConsumer prefixes) throws IOException {
            activity.readLock().lock();
            try {
                if (released) {
                    return;
                }
                if (parent != null) {
                    for (DiskRecord d : parent.disks()) {
                        for (int s = 0; s < d.segments(); s++) {
                            byte[] seg = parentManifests.segment(parent.id(), d, s);
                            entries(seg, seg.length, prefixes);
                        }
                    }
                }
                byte[] buf = new byte[ManifestKeys.SEGMENT_ENTRIES * ManifestKeys.ENTRY];
                for (DiskWriter d : disks) {
                    int segments = ManifestKeys.segments(d.staged().chunkCount());
                    for (int s = 0; s < segments; s++) {
                        int len = d.staged().readSegment(s, buf);
                        entries(buf, len, prefixes);
                    }
                }
                sink.recipeSources(prefixes);
            } finally {
                activity.readLock().unlock();
            }
        }

        /** Unwritten entries of a staged manifest read as zeros, like zero chunks: nothing to keep. */
        private static void entries(byte[] seg, int length, LongConsumer prefixes) {
            for (int at = 0; at < length; at += ManifestKeys.ENTRY) {
                if (!ChunkId.isZeroMarker(seg, at)) {
                    prefixes.accept(ChunkId.prefix(seg, at));
                }
            }
        }
    }

    void checkOpen() {
        State s = state;
        if (s != State.OPEN) {
            throw new IllegalStateException("backup " + id + " is " + s.name().toLowerCase());
        }
        sink.checkHealthy();
    }

    @Override
    public void close() {
        abort();
    }
}
