package io.blockmover.index.maintenance;

import io.blockmover.index.backup.RepositoryPeers;
import io.blockmover.index.backup.RepoContext;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.internal.RepoInternals;

import java.io.IOException;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a {@link Retention} to every VM's backups and deletes the others' catalog entries and
 * manifests in one synced batch. Manifests are full, so deleting any backup never breaks another.
 * Waits for nothing: a restore of a backup being pruned reads from its own snapshot of the index
 * and finishes; a backup whose parent is pruned reuses the parent's entries from its snapshot.
 * A held backup (an export serves it) is kept and reported as in use.
 */
public final class Pruner {
    private static final Logger log = LoggerFactory.getLogger(Pruner.class);
    private final RepoContext ctx;

    public Pruner(Repository repo) {
        this.ctx = RepoInternals.context(repo);
    }

    public PruneReport run(Retention retention, ZoneId zone, boolean dryRun) {
        if (!dryRun) {
            ctx.checkWritable("prune");
        }
        // Exclusive among processes sharing the repository: the catalog it decides on cannot change under it.
        try (RepositoryPeers.Lease lease = dryRun ? RepositoryPeers.Lease.NONE : ctx.peers().exclusive("prune")) {
            if (!ctx.readOnly()) {
                ctx.peers().refresh();
            }
            return prune(retention, zone, dryRun);
        } catch (IOException e) {
            throw new RepositoryException("prune failed: " + e.getMessage(), e);
        }
    }

    private PruneReport prune(Retention retention, ZoneId zone, boolean dryRun) throws IOException {
        long stamp = ctx.gate().enterShared();
        try {
            Map<String, List<BackupRecord>> byVm = new TreeMap<>();
            for (BackupRecord b : ctx.manifests().backups()) {
                byVm.computeIfAbsent(b.vmId(), k -> new ArrayList<>()).add(b);
            }
            List<Long> kept = new ArrayList<>();
            List<Long> removed = new ArrayList<>();
            List<Long> removedPacks = new ArrayList<>();
            List<PruneReport.InUse> inUse = new ArrayList<>();
            for (List<BackupRecord> backups : byVm.values()) {
                Set<Long> keep = retention.keep(backups, zone);
                for (BackupRecord b : backups) {
                    Optional<String> held = ctx.holds().heldFor(b.id());
                    if (keep.contains(b.id())) {
                        kept.add(b.id());
                    } else if (held.isPresent()) {
                        kept.add(b.id());
                        inUse.add(new PruneReport.InUse(b.id(), held.get()));
                    } else {
                        removed.add(b.id());
                        removedPacks.add(b.manifestPack());
                    }
                }
            }
            if (!dryRun && !removed.isEmpty()) {
                ctx.peers().pruning(removed);
                try (WriteBatch batch = new WriteBatch()) {
                    for (long id : removed) {
                        ctx.manifests().delete(batch, id);
                    }
                    ctx.db().write(batch, true);
                }
                // After the catalog no longer names them, so rebuild-index cannot resurrect pruned backups.
                for (long pack : removedPacks) {
                    try {
                        ctx.packs().delete(pack);
                    } catch (IOException e) {
                        log.warn("cannot delete manifest pack {} now; gc will: {}", Long.toHexString(pack), e.getMessage());
                    }
                }
            }
            return new PruneReport(kept, removed, inUse, dryRun);
        } finally {
            ctx.gate().exitShared(stamp);
        }
    }
}
