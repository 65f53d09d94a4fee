package io.blockmover.index.maintenance;

import io.blockmover.index.backup.RepoContext;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.pack.PackStore;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.internal.RepoInternals;

import java.io.IOException;
import org.rocksdb.RocksIterator;

/**
 * Sizes of a repository. {@code logicalBytes}: sum of disk capacities over all backups;
 * {@code dataBytes}: their non-zero chunks (what a naive copy would store); {@code uniqueBytes}:
 * plaintext of the distinct chunks indexed; {@code storedBytes}: their records in packs;
 * {@code packs}, {@code packBytes}: chunk pack files on disk (storedBytes, pack framing, and
 * garbage gc has not yet reclaimed); {@code manifestPackBytes}: the backups' manifest copies;
 * {@code framedChunks}: indexed chunks that sit inside a frame with others (format 4);
 * {@code recipeChunks}: indexed chunks stored as recipes of 4 KiB runs of others (format 3).
 */
public record RepositoryStats(int backups, long logicalBytes, long dataBytes, long uniqueChunks, long uniqueBytes,
                              long storedBytes, int packs, long packBytes, long manifestPackBytes, long framedChunks,
                              long recipeChunks) {

    /** How many times deduplication shrinks the data: dataBytes / uniqueBytes. */
    public double dedupRatio() {
        return uniqueBytes == 0 ? 1 : (double) dataBytes / uniqueBytes;
    }

    /** How many times compression shrinks unique data: uniqueBytes / storedBytes. */
    public double compressionRatio() {
        return storedBytes == 0 ? 1 : (double) uniqueBytes / storedBytes;
    }

    public static RepositoryStats of(Repository repo) throws IOException {
        RepoContext ctx = RepoInternals.context(repo);
        long stamp = ctx.gate().enterShared();
        try {
            return compute(ctx);
        } finally {
            ctx.gate().exitShared(stamp);
        }
    }

    private static RepositoryStats compute(RepoContext ctx) throws IOException {
        int backups = 0;
        long logical = 0;
        long data = 0;
        java.util.Set<Long> manifestPacks = new java.util.HashSet<>();
        for (BackupRecord b : ctx.manifests().backups()) {
            backups++;
            manifestPacks.add(b.manifestPack());
            for (DiskRecord d : b.disks()) {
                logical += d.capacity();
                data += Math.min(d.capacity(), d.dataChunks() * d.chunkSize());
            }
        }
        long chunks = 0;
        long unique = 0;
        long stored = 0;
        long framed = 0;
        long recipes = 0;
        try (RocksIterator it = ctx.db().iterator(ctx.db().chunks())) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] v = it.value();
                if (!ChunkLocation.isEncodedLength(v.length)) {
                    continue; // damaged entry: verify reports it
                }
                ChunkLocation loc = ChunkLocation.decode(v, v.length);
                chunks++;
                unique += loc.plainLength();
                stored += loc.recordShare();
                framed += loc.framed() ? 1 : 0;
                recipes += (loc.flags() & PackFormat.FLAG_RECIPE) != 0 ? 1 : 0;
            }
            IndexDb.checkScan(it, "stats");
        }
        int packs = 0;
        long packBytes = 0;
        long manifestBytes = 0;
        for (PackStore.PackInfo p : ctx.packs().list()) {
            if (manifestPacks.contains(p.packId())) {
                manifestBytes += p.size();
            } else {
                packs++;
                packBytes += p.size();
            }
        }
        return new RepositoryStats(backups, logical, data, chunks, unique, stored, packs, packBytes, manifestBytes, framed, recipes);
    }
}
