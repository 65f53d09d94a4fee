package io.blockmover.index.backup;

import static io.blockmover.index.chunk.BlockFingerprints.BLOCK;

import io.blockmover.index.chunk.BlockFingerprints;
import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.format.ChunkId;

import java.io.IOException;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The chunks a backup's {@link RecipeBuilder} keeps in memory to find blocks in, with a map from
 * each block's hash to where it is. The plaintexts live in a fixed set of slots, reused in turn:
 * a heap copy per chunk kept the young collections copying the live ones again and again (1.9 s of
 * pauses in a 20 s backup of the file-system image). A slot may be refilled while another thread
 * compares against it, so each slot has a generation, odd while it is written, and a comparison
 * counts only if the slot held the same generation before and after it (a sequence lock). Thread-safe.
 */
final class RecentChunks {
    /** A chunk in a slot, as of one generation of that slot; a zero block's hash is not mapped. */
    record Entry(ChunkId id, int slot, long generation, long[] hashes, boolean[] zero) {
        int blocks() {
            return hashes.length;
        }
    }

    /** Block {@code block} of an entry. */
    record BlockRef(Entry entry, int block) {
    }

    /** Writes a chunk's plaintext into a slot's buffer from position 0; returns false to leave the slot empty. */
    interface Fill {
        boolean into(ByteBuffer slot) throws IOException;
    }

    /** Allocated on first use: a small backup never fills them all. */
    private final byte[][] slots;
    private final int chunkSize;
    private final AtomicLongArray generations;
    private final AtomicReferenceArray<Entry> occupants;
    private final AtomicLong next = new AtomicLong();
    private final ConcurrentHashMap<ChunkId, Entry> byId = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, BlockRef> blocks = new ConcurrentHashMap<>();

    RecentChunks(int count, int chunkSize) {
        slots = new byte[count][];
        this.chunkSize = chunkSize;
        generations = new AtomicLongArray(count);
        occupants = new AtomicReferenceArray<>(count);
    }

    Entry get(ChunkId id) {
        return byId.get(id);
    }

    BlockRef block(long hash) {
        return blocks.get(hash);
    }

    /** What is already known of a plaintext's 4 KiB blocks: their hashes and which are zero. */
    record Blocks(long[] hashes, boolean[] zero) {
    }

    /**
     * Fills the next slot (evicting its chunk) and maps the new chunk's non-zero blocks; null if
     * {@code fill} declined or the slot is being written by another thread. {@code known}: the
     * blocks of what {@code fill} writes when the caller hashed them already (a new chunk is
     * hashed to be matched before it is stored: hashing it again cost a third of sub-chunk
     * dedup's own CPU), else null to hash them here.
     */
    Entry add(ChunkId id, Fill fill, Blocks known, BlockFingerprints fp, ChunkCodec codec) throws IOException {
        int slot = (int) Math.floorMod(next.getAndIncrement(), (long) slots.length);
        long g = generations.get(slot);
        if ((g & 1) != 0 || !generations.compareAndSet(slot, g, g + 1)) {
            return null;
        }
        Entry old = occupants.getAndSet(slot, null);
        if (old != null) {
            byId.remove(old.id(), old);
            for (int b = 0; b < old.blocks(); b++) {
                if (!old.zero()[b]) {
                    blocks.remove(old.hashes()[b], new BlockRef(old, b));
                }
            }
        }
        if (slots[slot] == null) {
            slots[slot] = new byte[chunkSize]; // published to readers by the generation written below
        }
        ByteBuffer buf = ByteBuffer.wrap(slots[slot]);
        boolean filled = false;
        long[] hashes = null;
        boolean[] zero = null;
        try {
            filled = fill.into(buf);
            if (filled && known != null) {
                hashes = known.hashes();
                zero = known.zero();
            } else if (filled) {
                buf.flip();
                int n = buf.remaining() / BLOCK;
                hashes = new long[n];
                zero = new boolean[n];
                for (int b = 0; b < n; b++) {
                    zero[b] = codec.isZero(buf.slice(b * BLOCK, BLOCK));
                    hashes[b] = zero[b] ? 0 : fp.hash(buf, b * BLOCK);
                }
            }
        } finally {
            generations.set(slot, g + 2);
        }
        if (!filled) {
            return null;
        }
        Entry e = new Entry(id, slot, g + 2, hashes, zero);
        occupants.set(slot, e);
        byId.put(id, e);
        for (int b = 0; b < hashes.length; b++) {
            if (!zero[b]) {
                blocks.putIfAbsent(hashes[b], new BlockRef(e, b));
            }
        }
        return e;
    }

    /**
     * True when the 4 KiB block of {@code plain} at absolute {@code at} equals block {@code block}
     * of {@code e} and e's slot held e all along.
     */
    boolean equal(ByteBuffer plain, int at, Entry e, int block) {
        if (generations.get(e.slot()) != e.generation()) {
            return false;
        }
        boolean same = plain.slice(at, BLOCK).mismatch(ByteBuffer.wrap(slots[e.slot()], block * BLOCK, BLOCK)) < 0;
        VarHandle.acquireFence(); // the reads of the slot complete before its generation is read again
        return same && generations.get(e.slot()) == e.generation();
    }
}
