package io.blockmover.index.backup;

import io.blockmover.index.chunk.BlockFingerprints;
import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.format.ChunkId;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.LongConsumer;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * The values of the sub-chunk dedup CFs (FORMAT.md): {@code fingerprints} key (8 bytes) → chunk id
 * ‖ u16 block; {@code recipes} recipe id → its source ids, 32 bytes each; {@code successors} chunk
 * id → the plain chunk stored after it on the same disk. Written in the batch that
 * publishes the chunk's location, so the index never names a recipe without its sources.
 */
public final class SubchunkEntries {
    private SubchunkEntries() {
    }

    static void put(IndexDb db, WriteBatch batch, ChunkId id, RecipeBuilder.Plan plan) throws RocksDBException {
        if (plan.recipe() != null) {
            batch.put(db.recipes(), id.bytes(), encodeSources(plan.recipe().sources()));
            return;
        }
        for (RecipeBuilder.Fingerprint f : plan.fingerprints()) {
            batch.put(db.fingerprints(), f.key(), fingerprintValue(id, f.block()));
        }
        if (plan.previous() != null) {
            batch.put(db.successors(), plan.previous().bytes(), id.bytes());
        }
    }

    /** Puts the sampled blocks of plain chunk {@code id} ({@code plain}'s remaining bytes, not moved). */
    public static void indexBlocks(IndexDb db, WriteBatch batch, ChunkId id, ByteBuffer plain, ChunkCodec codec) throws RocksDBException {
        BlockFingerprints fp = codec.fingerprints();
        int base = plain.position();
        for (int b = 0; b < plain.remaining() / BlockFingerprints.BLOCK; b++) {
            int at = base + b * BlockFingerprints.BLOCK;
            if (codec.isZero(plain.slice(at, BlockFingerprints.BLOCK))) {
                continue;
            }
            long h = fp.hash(plain, at);
            if (BlockFingerprints.sampled(h)) {
                batch.put(db.fingerprints(), fp.key(h, plain, at), fingerprintValue(id, b));
            }
        }
    }

    public static byte[] fingerprintValue(ChunkId id, int block) {
        return ByteBuffer.allocate(ChunkId.LENGTH + 2).put(id.bytes()).putShort((short) block).array();
    }

    public static byte[] encodeSources(List<ChunkId> sources) {
        ByteBuffer b = ByteBuffer.allocate(sources.size() * ChunkId.LENGTH);
        for (ChunkId s : sources) {
            b.put(s.bytes());
        }
        return b.array();
    }

    /** The chunk id a {@code fingerprints} value names, or null for a malformed value. */
    public static ChunkId fingerprintChunk(byte[] v) {
        return v.length == ChunkId.LENGTH + 2 ? ChunkId.copyOf(v, 0) : null;
    }

    /** Calls {@code prefixes} with the digest prefix of each source in a {@code recipes} value. */
    public static void sourcePrefixes(byte[] v, LongConsumer prefixes) {
        for (int at = 0; at + ChunkId.LENGTH <= v.length; at += ChunkId.LENGTH) {
            prefixes.accept(ChunkId.prefix(v, at));
        }
    }
}
