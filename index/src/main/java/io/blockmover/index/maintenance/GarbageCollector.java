package io.blockmover.index.maintenance;

import io.blockmover.index.backup.GcFence.Phase;
import io.blockmover.index.backup.GcFence;
import io.blockmover.index.backup.RepoContext;
import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.db.IndexSnapshot;
import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.manifest.ManifestKeys;
import io.blockmover.index.manifest.ManifestStore;
import io.blockmover.index.pack.PackRecords;
import io.blockmover.index.pack.PackStore;
import io.blockmover.index.pack.PackWriter;
import io.blockmover.index.repo.Repository;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mark and sweep beside running backups and restores (README "gc beside backups" says why it is
 * safe):
 * <ol>
 * <li>mark, on a snapshot S0 of the index: the chunks no manifest committed at S0 references, in
 *     packs older than the grace window, are the candidates;</li>
 * <li>condemn them ({@link GcFence}): from now on a writer's dedup hit on one is a miss, and it
 *     stores a fresh copy;</li>
 * <li>catch up with the writers that were open when they were condemned (they may have
 *     deduplicated against a candidate before, or reuse one from their parent): reprieve what
 *     they reference, then every chunk a manifest committed since S0 uses;</li>
 * <li>sweep: delete a candidate's index entry only if it still holds the location it had at S0
 *     (a writer's fresh copy is never lost), and manifests of backups that will never commit;</li>
 * <li>compact packs below the live fraction: live records copied (after a full check) into new
 *     sealed packs, each index entry repointed only if it still holds the old location;</li>
 * <li>wait for the readers opened before that (they read a snapshot that may name the old
 *     packs), then delete packs no index entry uses. New readers are not waited for.</li>
 * </ol>
 * A crash anywhere leaves only what a later gc reclaims.
 */
public final class GarbageCollector {
    private static final Logger log = LoggerFactory.getLogger(GarbageCollector.class);
    private static final int BATCH = 64 << 10;
    /** Entries compared and deleted per hold of the index's rewrite lock (writers' publications wait meanwhile). */
    private static final int SWEEP_BATCH = 4096;

    private final RepoContext ctx;

    public GarbageCollector(Repository repo) {
        this.ctx = repo.context();
    }

    /**
     * Runs one gc. Fails clearly if another gc does not finish within {@code waitMillis}, or if a
     * backup's chunk writes in flight do not (nothing is swept then). Restores that stay open
     * longer than that only defer the deletion of packs to the next gc.
     */
    public GcReport run(GcOptions options) throws IOException {
        ctx.checkWritable("run gc");
        Lock run = ctx.fence().gcRun();
        try {
            if (!run.tryLock(options.waitMillis(), TimeUnit.MILLISECONDS)) {
                throw new RepositoryException("gc waited " + options.waitMillis() + " ms for another gc to finish; try later");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RepositoryException("gc interrupted while waiting for another gc");
        }
        long stamp = ctx.gate().enterShared();
        try {
            return collect(options);
        } catch (RocksDBException e) {
            throw new RepositoryException("gc failed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RepositoryException("gc interrupted");
        } finally {
            ctx.gate().exitShared(stamp);
            run.unlock();
        }
    }

    private GcReport collect(GcOptions options) throws IOException, RocksDBException, InterruptedException {
        long now = System.currentTimeMillis();
        long graceMillis = options.grace().toMillis();
        // Pack ages before S0: a pack not listed here is younger than the mark and never a candidate's.
        Map<Long, Long> modified = new HashMap<>();
        long before = 0;
        for (PackStore.PackInfo p : ctx.packs().list()) {
            modified.put(p.packId(), p.lastModifiedMillis());
            before += p.size();
        }
        Candidates candidates;
        long deletedEntries = 0;
        long liveAtMark;
        try (IndexSnapshot s0 = IndexSnapshot.of(ctx.db(), false)) {
            ManifestStore atS0 = new ManifestStore(s0);
            LongHashSet live = new LongHashSet();
            Set<Long> committedAtS0 = new HashSet<>();
            for (BackupRecord b : atS0.backups()) {
                committedAtS0.add(b.id());
                mark(atS0, b, live);
            }
            candidates = new Candidates(live, modified, now - graceMillis);
            liveAtMark = candidates.find(s0);
            if (candidates.count > 0) {
                List<GcFence.OpenWriter> older = ctx.fence().condemn(candidates.condemned::contains);
                try {
                    ctx.fence().reached(Phase.CONDEMNED);
                    // The writers open at condemnation may have deduplicated against a candidate before it,
                    // or may reuse one from their parent: catch up with what they reference, then with
                    // whatever was committed since S0 (from a second snapshot, so a prune meanwhile
                    // cannot pull a manifest from under the read). Later references are fresh copies
                    // of condemned chunks or chunks that were never candidates.
                    LongHashSet reprieved = new LongHashSet();
                    for (GcFence.OpenWriter w : older) {
                        if (!w.quiesce(options.waitMillis())) {
                            throw new RepositoryException("gc waited " + options.waitMillis() + " ms for a backup's chunk writes in "
                                    + "progress; nothing was collected; try later");
                        }
                        w.references(reprieved::add);
                    }
                    try (IndexSnapshot s1 = IndexSnapshot.of(ctx.db(), false)) {
                        ManifestStore atS1 = new ManifestStore(s1);
                        for (BackupRecord b : atS1.backups()) {
                            if (!committedAtS0.contains(b.id())) {
                                mark(atS1, b, reprieved);
                            }
                        }
                    }
                    deletedEntries = sweep(s0, candidates, reprieved);
                } finally {
                    ctx.fence().lift();
                }
            }
        }
        long orphanSegments = sweepOrphanManifests();
        ctx.fence().reached(Phase.SWEPT);

        // Packs: which are dead, which sparse. In-progress first, then the index and catalog, so a
        // pack settled in between is seen by the index or the catalog.
        List<PackStore.PackInfo> packs = ctx.packs().list();
        Set<Long> inProgress = ctx.packsInProgress().snapshot();
        Set<Long> manifestPacks = new HashSet<>();
        for (BackupRecord b : ctx.manifests().backups()) {
            manifestPacks.add(b.manifestPack());
        }
        Map<Long, Long> liveBytes = new HashMap<>();
        try (RocksIterator it = ctx.db().iterator(ctx.db().chunks())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] v = it.value();
                if (v.length == ChunkLocation.ENCODED) {
                    ChunkLocation loc = ChunkLocation.decode(v, v.length);
                    liveBytes.merge(loc.packId(), (long) loc.recordLength(), Long::sum);
                }
            }
            IndexDb.checkScan(it, "gc's count of live bytes per pack");
        }
        List<Long> dead = new ArrayList<>();
        Set<Long> sparse = new HashSet<>();
        int keptForGrace = 0;
        for (PackStore.PackInfo p : packs) {
            if (manifestPacks.contains(p.packId()) || inProgress.contains(p.packId())) {
                continue; // a committed backup's manifest copy, or a pack a writer has not published yet
            }
            long used = liveBytes.getOrDefault(p.packId(), 0L);
            boolean young = now - p.lastModifiedMillis() < graceMillis;
            if (used == 0) {
                if (young) {
                    keptForGrace++;
                } else {
                    dead.add(p.packId());
                }
            } else if (used < options.compactBelow() * (p.size() - PackFormat.FILE_HEADER - PackFormat.FOOTER)) {
                if (young) {
                    keptForGrace++;
                } else {
                    sparse.add(p.packId());
                }
            }
        }
        List<Long> compacted = sparse.isEmpty() ? List.of() : compact(sparse);
        ctx.fence().reached(Phase.SWITCHED);

        // No index entry names these packs any more; readers opened before may still hold a snapshot that does.
        int deletedPacks = 0;
        int deferred = 0;
        if (!dead.isEmpty() || !compacted.isEmpty()) {
            if (ctx.readers().awaitBefore(ctx.readers().mark(), options.waitMillis())) {
                for (long p : dead) {
                    ctx.packs().delete(p);
                    deletedPacks++;
                }
                for (long p : compacted) {
                    ctx.packs().delete(p);
                }
            } else {
                deferred = dead.size() + compacted.size();
                log.warn("gc: restores or verifies opened before it are still running after {} ms; {} unused packs are left "
                        + "for the next gc", options.waitMillis(), deferred);
            }
        }
        long after = 0;
        for (PackStore.PackInfo p : ctx.packs().list()) {
            after += p.size();
        }
        GcReport report = new GcReport(liveAtMark, deletedEntries, deletedPacks, compacted.size(), keptForGrace,
                orphanSegments, before, after, deferred);
        log.info("gc: {}", report);
        return report;
    }

    /** Adds every chunk id of {@code b}'s manifests to {@code marks}. */
    private static void mark(ManifestStore manifests, BackupRecord b, LongHashSet marks) {
        for (DiskRecord d : b.disks()) {
            for (int s = 0; s < d.segments(); s++) {
                byte[] seg = manifests.segment(b.id(), d, s);
                for (int at = 0; at < seg.length; at += ManifestKeys.ENTRY) {
                    if (!ChunkId.isZeroMarker(seg, at)) {
                        marks.add(ChunkId.prefix(seg, at));
                    }
                }
            }
        }
    }

    /** The index entries at S0 that nothing committed at S0 uses, in packs older than the grace window. */
    private static final class Candidates {
        final LongHashSet live;
        final Map<Long, Long> modified;
        final long oldBefore;
        final LongHashSet condemned = new LongHashSet();
        long count;

        Candidates(LongHashSet live, Map<Long, Long> modified, long oldBefore) {
            this.live = live;
            this.modified = modified;
            this.oldBefore = oldBefore;
        }

        /** A key that is no chunk id is junk nobody can dedup against; a malformed location stays for verify. */
        boolean test(byte[] k, byte[] v) {
            if (k.length != ChunkId.LENGTH) {
                return true;
            }
            if (live.contains(ChunkId.prefix(k, 0)) || v.length != ChunkLocation.ENCODED) {
                return false;
            }
            Long m = modified.get(ChunkLocation.decode(v, v.length).packId());
            return m != null && m < oldBefore;
        }

        /** Collects the condemned prefixes; returns how many entries are live. */
        long find(IndexSnapshot s0) {
            long liveEntries = 0;
            try (RocksIterator it = s0.iterator(s0.db().chunks())) {
                for (it.seekToFirst(); it.isValid(); it.next()) {
                    byte[] k = it.key();
                    if (test(k, it.value())) {
                        count++;
                        if (k.length == ChunkId.LENGTH) {
                            condemned.add(ChunkId.prefix(k, 0));
                        }
                    } else if (k.length == ChunkId.LENGTH && live.contains(ChunkId.prefix(k, 0))) {
                        liveEntries++;
                    }
                }
                IndexDb.checkScan(it, "gc's search for unreferenced chunks");
            }
            return liveEntries;
        }
    }

    /** Deletes each candidate's entry that still holds its S0 location; returns how many. */
    private long sweep(IndexSnapshot s0, Candidates candidates, LongHashSet reprieved) {
        long deleted = 0;
        List<byte[]> keys = new ArrayList<>(SWEEP_BATCH);
        List<byte[]> values = new ArrayList<>(SWEEP_BATCH);
        try (RocksIterator it = s0.iterator(ctx.db().chunks())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] k = it.key();
                byte[] v = it.value();
                if (candidates.test(k, v) && !(k.length == ChunkId.LENGTH && reprieved.contains(ChunkId.prefix(k, 0)))) {
                    keys.add(k);
                    values.add(v);
                    if (keys.size() == SWEEP_BATCH) {
                        deleted += compareAndDelete(keys, values);
                    }
                }
            }
            IndexDb.checkScan(it, "gc's sweep");
        }
        return deleted + compareAndDelete(keys, values);
    }

    private long compareAndDelete(List<byte[]> keys, List<byte[]> values) {
        if (keys.isEmpty()) {
            return 0;
        }
        long n = 0;
        Lock rewriting = ctx.fence().rewriting();
        rewriting.lock();
        try (WriteBatch batch = new WriteBatch()) {
            for (int i = 0; i < keys.size(); i++) {
                if (Arrays.equals(ctx.db().get(ctx.db().chunks(), keys.get(i)), values.get(i))) {
                    batch.delete(ctx.db().chunks(), keys.get(i));
                    n++;
                }
            }
            ctx.db().write(batch, true);
        } catch (RocksDBException e) {
            throw new RepositoryException("gc cannot delete index entries: " + e.getMessage(), e);
        } finally {
            rewriting.unlock();
        }
        keys.clear();
        values.clear();
        return n;
    }

    /** Deletes manifest segments of backups that are neither committed nor still being written. */
    private long sweepOrphanManifests() {
        // The open writers before the catalog: a writer not open then has committed (so the catalog shows it) or never will.
        GcFence.Writers writers = ctx.fence().writers(ctx.nextBackupId());
        Set<Long> committed = new HashSet<>();
        for (BackupRecord b : ctx.manifests().backups()) {
            committed.add(b.id());
        }
        long orphanSegments = 0;
        try (RocksIterator it = ctx.db().iterator(ctx.db().manifests()); Batcher batch = new Batcher()) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] k = it.key();
                long id = ManifestKeys.backupIdOf(k);
                if (id < writers.nextId() && !writers.open().contains(id) && !committed.contains(id)) {
                    batch.get().delete(ctx.db().manifests(), k);
                    orphanSegments++;
                    batch.maybeFlush();
                }
            }
            IndexDb.checkScan(it, "gc's search for orphaned manifests");
        } catch (RocksDBException e) {
            throw new RepositoryException("gc cannot delete orphaned manifests: " + e.getMessage(), e);
        }
        return orphanSegments;
    }

    /**
     * Copies the live records of {@code victims} into new packs and repoints their index entries;
     * returns the victims left with no entry (to delete once older readers are gone).
     */
    private List<Long> compact(Set<Long> victims) throws IOException {
        Set<Long> keep = new HashSet<>(); // victims with a damaged live record stay for verify to report
        Copy out = null;
        ChunkCodec codec = ctx.codecs().borrow();
        ByteBuffer check = ByteBuffer.allocateDirect(ctx.chunkSize());
        try (RocksIterator it = ctx.db().iterator(ctx.db().chunks())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] v = it.value();
                if (v.length != ChunkLocation.ENCODED) {
                    continue;
                }
                ChunkLocation loc = ChunkLocation.decode(v, v.length);
                if (!victims.contains(loc.packId())) {
                    continue;
                }
                ChunkId id = ChunkId.wrap(it.key());
                ByteBuffer rec = codec.recordBuffer().limit(loc.recordLength());
                try {
                    if (ctx.packs().read(loc.packId(), loc.offset(), rec) < loc.recordLength()) {
                        throw new ChunkDamagedException(id.hex(), "truncated");
                    }
                    rec.flip();
                    codec.decode(PackRecords.openChunk(rec, id, codec.chunkSize()), id, check.clear());
                } catch (ChunkDamagedException e) {
                    keep.add(loc.packId());
                    continue;
                }
                if (out == null) {
                    out = new Copy();
                }
                out.append(id, v, rec);
                if (out.pack.size() >= ctx.packTargetSize()) {
                    out.publish();
                    out = null;
                }
            }
            if (out != null) {
                out.publish();
            }
            // Before any victim is called empty: one whose live records were not all seen must stay.
            IndexDb.checkScan(it, "gc's compaction");
        } finally {
            ctx.codecs().release(codec);
        }
        List<Long> emptied = new ArrayList<>();
        for (long p : victims) {
            if (!keep.contains(p)) {
                emptied.add(p);
            }
        }
        return emptied;
    }

    /** One new pack of compacted records, with the locations its entries had before. */
    private final class Copy {
        final PackWriter pack;
        final List<byte[]> oldValues = new ArrayList<>();

        Copy() throws IOException {
            long id = ctx.newPackId();
            ctx.packsInProgress().started(id);
            try {
                pack = PackWriter.create(ctx.packs(), id);
            } catch (IOException | RuntimeException e) {
                ctx.packsInProgress().settled(id);
                throw e;
            }
        }

        void append(ChunkId id, byte[] oldValue, ByteBuffer rec) throws IOException {
            pack.append(id, PackRecords.split(rec));
            oldValues.add(oldValue);
        }

        /**
         * Seals the pack, then repoints each entry that still holds its old location. An entry a
         * writer changed meanwhile (a fresh copy of a condemned chunk) keeps the writer's location;
         * its copy here is dead weight for the next gc.
         */
        void publish() throws IOException {
            try {
                List<PackWriter.Entry> entries = pack.seal();
                Lock rewriting = ctx.fence().rewriting();
                rewriting.lock();
                try (WriteBatch batch = new WriteBatch()) {
                    for (int i = 0; i < entries.size(); i++) {
                        PackWriter.Entry e = entries.get(i);
                        if (Arrays.equals(ctx.db().get(ctx.db().chunks(), e.id().bytes()), oldValues.get(i))) {
                            batch.put(ctx.db().chunks(), e.id().bytes(), e.location().encode());
                        }
                    }
                    ctx.db().write(batch, true);
                } catch (RocksDBException e) {
                    throw new RepositoryException("gc cannot repoint chunks: " + e.getMessage(), e);
                } finally {
                    rewriting.unlock();
                }
            } finally {
                ctx.packsInProgress().settled(pack.packId());
            }
        }
    }

    /** A write batch flushed (synced) every {@value #BATCH} operations and at close. */
    private final class Batcher implements AutoCloseable {
        private WriteBatch batch = new WriteBatch();

        WriteBatch get() {
            return batch;
        }

        void maybeFlush() {
            if (batch.count() >= BATCH) {
                ctx.db().write(batch, true);
                batch.close();
                batch = new WriteBatch();
            }
        }

        @Override
        public void close() {
            try {
                if (batch.count() > 0) {
                    ctx.db().write(batch, true);
                }
            } finally {
                batch.close();
            }
        }
    }
}
