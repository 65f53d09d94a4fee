package io.blockmover.index.maintenance;

import io.blockmover.index.backup.RepoContext;
import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.pack.PackRecords;
import io.blockmover.index.backup.ChunkReads;
import io.blockmover.index.pack.PackWriter;

import java.io.IOException;
import java.nio.ByteBuffer;
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
 * Rewrites sparse packs: their live records are checked in full, copied into new sealed packs,
 * and each index entry is repointed only if it still holds the old location, so a writer's
 * fresh copy of a condemned chunk always wins.
 */
final class PackCompactor {
    private final RepoContext ctx;

    PackCompactor(RepoContext ctx) {
        this.ctx = ctx;
    }

    /**
     * Copies the live records of {@code victims} into new packs and repoints their index entries;
     * returns the victims left with no entry (to delete once older readers are gone).
     */
    List<Long> compact(Set<Long> victims) throws IOException {
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
                    ChunkReads.checkRecord(codec, id, rec, check.clear());
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
}
