package io.blockmover.index.maintenance;

import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.chunk.ChunkDamagedException;
import io.blockmover.index.chunk.ChunkId;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.manifest.ManifestKeys;
import io.blockmover.index.pack.ChunkLocation;
import io.blockmover.index.pack.PackFormat;
import io.blockmover.index.pack.PackStore;
import io.blockmover.index.pack.PackWriter;
import io.blockmover.index.repo.RepoContext;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.RepositoryException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mark and sweep. Mark: every chunk id in every committed manifest. Sweep: index entries of
 * unmarked chunks and manifests of uncommitted backups go (one synced batch per 64 Ki deletes),
 * then packs with no live record (including manifest packs of backups that never committed or
 * were pruned) are deleted and packs below the live fraction are compacted:
 * live records copied (after a full check) into new packs, which are sealed before the index
 * points at them, and only then the old pack is deleted. Runs alone (the maintenance gate).
 */
public final class GarbageCollector {
    private static final Logger log = LoggerFactory.getLogger(GarbageCollector.class);
    private static final int BATCH = 64 << 10;

    private final RepoContext ctx;

    public GarbageCollector(Repository repo) {
        this.ctx = repo.context();
    }

    public GcReport run(GcOptions options) throws IOException {
        ctx.checkWritable("run gc");
        long stamp = ctx.gate().enterExclusive(options.waitMillis(), "gc");
        try {
            return collect(options);
        } catch (RocksDBException e) {
            throw new RepositoryException("gc failed: " + e.getMessage(), e);
        } finally {
            ctx.gate().exitExclusive(stamp);
        }
    }

    private GcReport collect(GcOptions options) throws IOException, RocksDBException {
        // Mark.
        LongHashSet live = new LongHashSet();
        Set<Long> committed = new HashSet<>();
        Set<Long> manifestPacks = new HashSet<>();
        for (BackupRecord b : ctx.manifests().backups()) {
            committed.add(b.id());
            manifestPacks.add(b.manifestPack());
            for (DiskRecord d : b.disks()) {
                for (int s = 0; s < d.segments(); s++) {
                    byte[] seg = ctx.manifests().segment(b.id(), d, s);
                    for (int at = 0; at < seg.length; at += ManifestKeys.ENTRY) {
                        if (!ChunkId.isZeroMarker(seg, at)) {
                            live.add(ChunkId.prefix(seg, at));
                        }
                    }
                }
            }
        }
        // Sweep manifests of backups that never committed.
        long orphanSegments = 0;
        try (RocksIterator it = ctx.db().iterator(ctx.db().manifests()); Batcher batch = new Batcher()) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] k = it.key();
                if (!committed.contains(ManifestKeys.backupIdOf(k))) {
                    batch.get().delete(ctx.db().manifests(), k);
                    orphanSegments++;
                    batch.maybeFlush();
                }
            }
        }
        // Sweep chunk entries; tally live bytes per pack.
        Map<Long, Long> liveBytes = new HashMap<>();
        long liveChunks = 0;
        long deletedEntries = 0;
        try (RocksIterator it = ctx.db().iterator(ctx.db().chunks()); Batcher batch = new Batcher()) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] k = it.key();
                if (k.length == ChunkId.LENGTH && live.contains(ChunkId.prefix(k, 0))) {
                    byte[] v = it.value();
                    liveChunks++;
                    if (v.length != ChunkLocation.ENCODED) {
                        log.warn("gc: chunk {} has a malformed index entry; kept for verify and rebuild-index", ChunkId.copyOf(k, 0));
                        continue;
                    }
                    ChunkLocation loc = ChunkLocation.decode(v, v.length);
                    liveBytes.merge(loc.packId(), (long) loc.recordLength(), Long::sum);
                } else {
                    batch.get().delete(ctx.db().chunks(), k);
                    deletedEntries++;
                    batch.maybeFlush();
                }
            }
        }
        // Packs.
        long now = System.currentTimeMillis();
        long before = 0;
        int deletedPacks = 0;
        int keptForGrace = 0;
        Set<Long> compact = new HashSet<>();
        List<PackStore.PackInfo> packs = ctx.packs().list();
        for (PackStore.PackInfo p : packs) {
            before += p.size();
            if (manifestPacks.contains(p.packId())) {
                continue; // a committed backup's manifest copy: live as long as the backup
            }
            long used = liveBytes.getOrDefault(p.packId(), 0L);
            boolean young = now - p.lastModifiedMillis() < options.grace().toMillis();
            if (used == 0) {
                if (young) {
                    keptForGrace++;
                } else {
                    ctx.packs().delete(p.packId());
                    deletedPacks++;
                }
            } else if (used < options.compactBelow() * (p.size() - PackFormat.FILE_HEADER - PackFormat.FOOTER)) {
                if (young) {
                    keptForGrace++;
                } else {
                    compact.add(p.packId());
                }
            }
        }
        int compacted = compact.isEmpty() ? 0 : compact(compact);
        long after = 0;
        for (PackStore.PackInfo p : ctx.packs().list()) {
            after += p.size();
        }
        GcReport report = new GcReport(liveChunks, deletedEntries, deletedPacks, compacted, keptForGrace, orphanSegments, before, after);
        log.info("gc: {}", report);
        return report;
    }

    /** Copies the live records of {@code victims} into new packs, repoints the index, deletes the victims. */
    private int compact(Set<Long> victims) throws IOException, RocksDBException {
        Set<Long> keep = new HashSet<>(); // victims with a damaged live record stay for verify to report
        PackWriter out = null;
        ChunkCodec codec = ctx.codecs().borrow();
        ByteBuffer check = ByteBuffer.allocateDirect(ctx.config().chunkSize());
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
                    codec.decode(rec.duplicate(), id, check.clear());
                } catch (ChunkDamagedException e) {
                    keep.add(loc.packId());
                    continue;
                }
                if (out == null) {
                    out = PackWriter.create(ctx.packs(), ctx.newPackId());
                }
                out.append(id, new ByteBuffer[] {rec.slice(0, PackFormat.RECORD_HEADER), rec.slice(PackFormat.RECORD_HEADER, loc.payloadLength())});
                if (out.size() >= ctx.config().packTargetSize()) {
                    publish(out);
                    out = null;
                }
            }
            if (out != null) {
                publish(out);
            }
        } finally {
            ctx.codecs().release(codec);
        }
        int n = 0;
        for (long p : victims) {
            if (!keep.contains(p)) {
                ctx.packs().delete(p);
                n++;
            }
        }
        return n;
    }

    private void publish(PackWriter pack) throws IOException {
        List<PackWriter.Entry> entries = pack.seal();
        try (WriteBatch batch = new WriteBatch()) {
            for (PackWriter.Entry e : entries) {
                batch.put(ctx.db().chunks(), e.id().bytes(), e.location().encode());
            }
            ctx.db().write(batch, true);
        } catch (RocksDBException e) {
            throw new RepositoryException("gc cannot repoint chunks: " + e.getMessage(), e);
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
