package io.blockmover.index.maintenance;

import io.blockmover.index.backup.GcFence;
import io.blockmover.index.backup.RepoContext;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.db.IndexSnapshot;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.ManifestKeys;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.Lock;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

/**
 * gc's sweep: deletes the index entries of condemned chunks that still hold the location they
 * had at the mark, and the manifest segments of backups that will never commit. Deletions run
 * under the fence's rewrite lock, in batches, so a writer's publication never waits long.
 */
final class GcSweep {
    private static final int BATCH = 64 << 10;
    /** Entries compared and deleted per hold of the index's rewrite lock (writers' publications wait meanwhile). */
    private static final int SWEEP_BATCH = 4096;

    private final RepoContext ctx;

    GcSweep(RepoContext ctx) {
        this.ctx = ctx;
    }

    /** Deletes each candidate's entry that still holds its S0 location; returns how many. */
    long sweep(IndexSnapshot s0, GcMark.Candidates candidates, LongHashSet reprieved) {
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
    long sweepOrphanManifests() {
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
