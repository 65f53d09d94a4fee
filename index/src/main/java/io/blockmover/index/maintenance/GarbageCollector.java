package io.blockmover.index.maintenance;

import io.blockmover.index.backup.RepositoryPeers;
import io.blockmover.index.backup.GcFence.Phase;
import io.blockmover.index.backup.GcFence;
import io.blockmover.index.backup.RepoContext;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.db.IndexSnapshot;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.ManifestStore;
import io.blockmover.index.pack.PackStore;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.internal.RepoInternals;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mark and sweep beside running backups and restores (index/FORMAT.md "gc beside backups" says why it is
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

    private final RepoContext ctx;

    private final GcSweep sweep;
    private final PackCompactor compactor;

    public GarbageCollector(Repository repo) {
        this.ctx = RepoInternals.context(repo);
        this.sweep = new GcSweep(ctx);
        this.compactor = new PackCompactor(ctx);
    }

    /**
     * Runs one gc. Fails clearly if another gc does not finish within {@code waitMillis}, or if a
     * backup's chunk writes in flight do not (nothing is swept then). Restores that stay open
     * longer than that only defer the deletion of packs to the next gc.
     */
    public GcReport run(GcOptions options) throws IOException {
        ctx.checkWritable("run gc");
        // Exclusive among processes sharing the repository: no other writes a pack or a backup meanwhile.
        try (RepositoryPeers.Lease lease = ctx.peers().exclusive("gc")) {
            ctx.peers().refresh();
            return runHere(options);
        }
    }

    private GcReport runHere(GcOptions options) throws IOException {
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
        GcMark.Candidates candidates;
        long deletedEntries = 0;
        long liveAtMark;
        try (IndexSnapshot s0 = IndexSnapshot.of(ctx.db(), false)) {
            ManifestStore atS0 = new ManifestStore(s0);
            LongHashSet live = new LongHashSet();
            Set<Long> committedAtS0 = new HashSet<>();
            for (BackupRecord b : atS0.backups()) {
                committedAtS0.add(b.id());
                GcMark.mark(atS0, b, live);
            }
            SubchunkGc.markSources(s0, live); // a live recipe keeps its sources
            candidates = new GcMark.Candidates(live, modified, now - graceMillis);
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
                                GcMark.mark(atS1, b, reprieved);
                            }
                        }
                        // Recipes the writers or new backups reference keep their sources (the writers'
                        // own unpublished recipes gave theirs above).
                        SubchunkGc.markSources(s1, reprieved);
                    }
                    deletedEntries = sweep.sweep(s0, candidates, reprieved);
                } finally {
                    ctx.fence().lift();
                }
            }
        }
        long orphanSegments = sweep.sweepOrphanManifests();
        long subchunkEntries = SubchunkGc.sweep(ctx);
        if (subchunkEntries > 0) {
            log.info("gc: {} recipe and fingerprint entries of swept chunks deleted", subchunkEntries);
        }
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
                if (ChunkLocation.isEncodedLength(v.length)) {
                    // A frame counts by the share of its live chunks: one live chunk of eight keeps
                    // the whole frame, but its pack looks 7/8 dead and is compacted (the frame re-encoded).
                    ChunkLocation loc = ChunkLocation.decode(v, v.length);
                    liveBytes.merge(loc.packId(), loc.recordShare(), Long::sum);
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
        List<Long> compacted = sparse.isEmpty() ? List.of() : compactor.compact(sparse);
        ctx.fence().reached(Phase.SWITCHED);

        // No index entry names these packs any more; readers opened before may still hold a snapshot that does.
        int deletedPacks = 0;
        int deferred = 0;
        if (deletedEntries > 0 || !dead.isEmpty() || !compacted.isEmpty()) {
            // Other processes must stop finding these chunks before their packs go.
            ctx.peers().indexRewritten(ctx);
        }
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
}
