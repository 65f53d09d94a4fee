package io.blockmover.index.maintenance;

import io.blockmover.index.backup.RepoContext;
import io.blockmover.index.backup.SubchunkEntries;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.db.IndexSnapshot;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.PackFormat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Lock;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

/**
 * gc's part in sub-chunk dedup (format 3): a live recipe keeps its sources live, and the
 * {@code recipes}, {@code fingerprints} and {@code successors} entries of swept chunks go. Recipes never refer to
 * recipes, so one pass over {@code recipes} after the manifests marks everything.
 */
final class SubchunkGc {
    private static final int SWEEP_BATCH = 4096;

    private SubchunkGc() {
    }

    /** Adds the sources of every recipe of {@code view} whose id is in {@code marks}. */
    static void markSources(IndexSnapshot view, LongHashSet marks) {
        if (!view.db().hasSubchunks()) {
            return;
        }
        List<byte[]> sources = new ArrayList<>();
        try (RocksIterator it = view.iterator(view.db().recipes())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] k = it.key();
                if (k.length == ChunkId.LENGTH && marks.contains(ChunkId.prefix(k, 0))) {
                    sources.add(it.value());
                }
            }
            IndexDb.checkScan(it, "gc's mark of recipe sources");
        }
        for (byte[] v : sources) {
            SubchunkEntries.sourcePrefixes(v, marks::add);
        }
    }

    /**
     * Deletes the {@code recipes} entries of chunks no longer indexed, the {@code fingerprints}
     * naming a chunk no longer indexed (or one that is now a recipe), and the {@code successors}
     * links either of whose chunks is gone. The check is repeated under
     * the rewrite lock, which writers' publications (chunk and entries in one batch) share: an entry
     * a writer has just published is never taken for an orphan. Returns how many went.
     */
    static long sweep(RepoContext ctx) {
        IndexDb db = ctx.db();
        if (!db.hasSubchunks()) {
            return 0;
        }
        // A recipes entry needs its chunk; a fingerprint needs its chunk, stored plain; a successor link both its chunks.
        return sweep(ctx, db.recipes(), (k, v) -> indexed(ctx, k, false))
                + sweep(ctx, db.fingerprints(), (k, v) -> {
                    ChunkId id = SubchunkEntries.fingerprintChunk(v);
                    return id != null && indexed(ctx, id.bytes(), true);
                })
                + sweep(ctx, db.successors(), (k, v) -> indexed(ctx, k, false) && indexed(ctx, v, true));
    }

    /** Whether an entry still serves (else it goes). */
    private interface Serves {
        boolean test(byte[] key, byte[] value);
    }

    private static boolean indexed(RepoContext ctx, byte[] id, boolean plainOnly) {
        if (id.length != ChunkId.LENGTH) {
            return false;
        }
        ChunkLocation loc = ctx.db().location(ChunkId.wrap(id));
        return loc != null && (!plainOnly || (loc.flags() & PackFormat.FLAG_RECIPE) == 0);
    }

    private static long sweep(RepoContext ctx, ColumnFamilyHandle cf, Serves serves) {
        long deleted = 0;
        List<byte[]> keys = new ArrayList<>();
        try (RocksIterator it = ctx.db().iterator(cf)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] k = it.key();
                if (!serves.test(k, it.value())) {
                    keys.add(k);
                    if (keys.size() == SWEEP_BATCH) {
                        deleted += recheckAndDelete(ctx, cf, serves, keys);
                    }
                }
            }
            IndexDb.checkScan(it, "gc's sweep of sub-chunk entries");
        }
        return deleted + recheckAndDelete(ctx, cf, serves, keys);
    }

    private static long recheckAndDelete(RepoContext ctx, ColumnFamilyHandle cf, Serves serves, List<byte[]> keys) {
        if (keys.isEmpty()) {
            return 0;
        }
        long deleted = 0;
        Lock rewriting = ctx.fence().rewriting();
        rewriting.lock();
        try (WriteBatch batch = new WriteBatch()) {
            for (byte[] k : keys) {
                byte[] v = ctx.db().get(cf, k);
                if (v == null) {
                    continue;
                }
                if (!serves.test(k, v)) {
                    batch.delete(cf, k);
                    deleted++;
                }
            }
            ctx.db().write(batch, true);
        } catch (org.rocksdb.RocksDBException e) {
            throw new io.blockmover.index.format.RepositoryException("gc cannot sweep sub-chunk entries: " + e.getMessage(), e);
        } finally {
            rewriting.unlock();
        }
        keys.clear();
        return deleted;
    }
}
