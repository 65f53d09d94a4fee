package io.blockmover.index.maintenance;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.repo.RepoContext;
import io.blockmover.index.repo.Repository;

import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.rocksdb.WriteBatch;

/**
 * Applies a {@link Retention} to every VM's backups and deletes the others' catalog entries and
 * manifests in one synced batch. Manifests are full, so deleting any backup never breaks another.
 */
public final class Pruner {
    private final RepoContext ctx;

    public Pruner(Repository repo) {
        this.ctx = repo.context();
    }

    public PruneReport run(Retention retention, ZoneId zone, boolean dryRun, long waitMillis) {
        long stamp = ctx.gate().enterExclusive(waitMillis, "prune");
        try {
            Map<String, List<BackupRecord>> byVm = new TreeMap<>();
            for (BackupRecord b : ctx.manifests().backups()) {
                byVm.computeIfAbsent(b.vmId(), k -> new ArrayList<>()).add(b);
            }
            List<Long> kept = new ArrayList<>();
            List<Long> removed = new ArrayList<>();
            for (List<BackupRecord> backups : byVm.values()) {
                Set<Long> keep = retention.keep(backups, zone);
                for (BackupRecord b : backups) {
                    (keep.contains(b.id()) ? kept : removed).add(b.id());
                }
            }
            if (!dryRun && !removed.isEmpty()) {
                try (WriteBatch batch = new WriteBatch()) {
                    for (long id : removed) {
                        ctx.manifests().delete(batch, id);
                    }
                    ctx.db().write(batch, true);
                }
            }
            return new PruneReport(kept, removed, dryRun);
        } finally {
            ctx.gate().exitExclusive(stamp);
        }
    }
}
