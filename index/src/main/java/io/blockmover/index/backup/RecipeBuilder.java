package io.blockmover.index.backup;

import static io.blockmover.index.chunk.BlockFingerprints.BLOCK;

import io.blockmover.index.chunk.BlockFingerprints;
import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.chunk.Recipe;
import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.backup.RecentChunks.BlockRef;
import io.blockmover.index.backup.RecentChunks.Entry;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Sub-chunk dedup of one backup's new chunks (docs/chunk-store.md "4 KiB duplicates"): finds the
 * 4 KiB blocks of a new chunk in chunks already stored and, when enough are found, describes the
 * chunk as a {@link Recipe}; else names the chunk's sampled blocks for the fingerprint index.
 *
 * <p>A block is looked up first among the blocks of the source chunks this backup matched lately
 * (a copied file spans consecutive chunks at one shift, so the next chunk's blocks are found there
 * without the index), then, if sampled, in the fingerprint index. A candidate is compared byte for
 * byte, then the match is extended block by block both ways. Sources are chunks stored plain
 * (reads go one level deep): published in the index and not condemned by a running gc, or this
 * backup's own new chunks, whose packs are sealed before the backup commits and ahead of whose
 * publication the recipe's is held back (ChunkSink), so a recipe never needs a chunk that might
 * not survive its backup. Thread-safe.
 */
final class RecipeBuilder {
    /** A recipe costs its reader a read of each source: only worth it for this many blocks (16 KiB) or more. */
    static final int MIN_REFERENCED_BLOCKS = 4;
    /** Sources one recipe may use: bounds what one chunk read costs. */
    static final int MAX_SOURCES = 4;
    /**
     * Chunks kept in memory with their block hashes: sources read back, and this backup's latest
     * new chunks (a copy close behind its original is found there, before the original's pack is
     * sealed and indexed). 24 MiB per backup.
     */
    private static final long RECENT_BYTES = 24L << 20;

    private final RepoContext ctx;
    /** Chunks of this backup stored but not yet published (sources a recipe waits for). */
    private final Predicate<ChunkId> pendingHere;
    private final RecentChunks recent;

    /**
     * What to store for a new chunk: a recipe, or the plaintext with these sampled blocks for the
     * index and, if known, the chunk before it on its disk (whose successor it becomes).
     */
    record Plan(Recipe recipe, List<Fingerprint> fingerprints, ChunkId previous) {
    }

    /** A sampled block of a chunk stored plain: index key and block number. */
    record Fingerprint(byte[] key, int block) {
    }

    RecipeBuilder(RepoContext ctx, Predicate<ChunkId> pendingHere) {
        this.ctx = ctx;
        this.pendingHere = pendingHere;
        this.recent = new RecentChunks((int) Math.max(16, RECENT_BYTES / ctx.chunkSize()), ctx.chunkSize());
    }

    /**
     * Plans how to store new chunk {@code id} ({@code plain}'s remaining bytes, not moved).
     * {@code excluded}: never a source, the chunk's previous version in an incremental (the parent's
     * chunk at the same offset). A changed chunk shares most blocks with it: as a recipe of it, it
     * would keep the old version alive after its backups are pruned, for a saving smaller than
     * that version, and make every read of the new one read the old one too.
     * {@code useSource} is told each source a recipe will use, before this returns, so that gc,
     * catching up with the backup, sees it.
     */
    Plan plan(ChunkId id, ByteBuffer plain, ChunkCodec codec, ChunkId previous, ChunkId excluded, Consumer<ChunkId> useSource)
            throws IOException {
        BlockFingerprints fp = codec.fingerprints();
        int base = plain.position();
        int blocks = plain.remaining() / BLOCK;
        long[] hashes = new long[blocks];
        boolean[] zero = new boolean[blocks];
        for (int b = 0; b < blocks; b++) {
            zero[b] = codec.isZero(plain.slice(base + b * BLOCK, BLOCK));
            if (!zero[b]) {
                hashes[b] = fp.hash(plain, base + b * BLOCK);
            }
        }
        Entry[] from = new Entry[blocks];
        int[] fromBlock = new int[blocks];
        List<Entry> used = new ArrayList<>();
        match(plain, base, hashes, zero, from, fromBlock, used, fp, codec, excluded, true);
        // A copy at a shift spans two stored chunks; the second may have no sampled block in this
        // chunk's part of it, but it is the first's successor on its disk.
        if (!used.isEmpty() && used.size() < MAX_SOURCES && uncovered(from, zero)) {
            for (Entry s : List.copyOf(used)) {
                byte[] next = ctx.db().get(ctx.db().successors(), s.id().bytes());
                if (next != null && next.length == ChunkId.LENGTH && !ChunkId.wrap(next).equals(excluded)) {
                    load(ChunkId.wrap(next), codec, fp);
                }
            }
            match(plain, base, hashes, zero, from, fromBlock, used, fp, codec, excluded, false);
        }
        int referenced = 0;
        for (Entry s : from) {
            referenced += s == null ? 0 : 1;
        }
        if (referenced < MIN_REFERENCED_BLOCKS) {
            return storedPlain(id, plain, base, hashes, zero, fp, previous, codec);
        }
        // A source is this backup's own chunk not yet published (the recipe's publication waits for
        // it, ChunkSink), or an indexed one not condemned by a running gc; this check and the
        // caller's record of the sources happen inside the backup's chunk operation that gc waits for.
        for (Entry s : used) {
            if (!pendingHere.test(s.id()) && (ctx.fence().isCondemned(s.id()) || !ctx.db().contains(s.id(), codec.lookupScratch()))) {
                return storedPlain(id, plain, base, hashes, zero, fp, previous, codec);
            }
        }
        for (Entry s : used) {
            useSource.accept(s.id());
        }
        return new Plan(toRecipe(plain, base, blocks, from, fromBlock, used), List.of(), null);
    }

    /** A chunk stored whole: its sampled blocks go to the index and it joins the recent chunks. */
    private Plan storedPlain(ChunkId id, ByteBuffer plain, int base, long[] hashes, boolean[] zero, BlockFingerprints fp,
                             ChunkId previous, ChunkCodec codec) throws IOException {
        recent.add(id, slot -> {
            slot.put(plain.duplicate().position(base));
            return true;
        }, new RecentChunks.Blocks(hashes, zero), fp, codec);
        return new Plan(null, sampled(hashes, zero, plain, base, fp), previous);
    }

    /** Matches the blocks not yet matched; {@code useIndex}: look sampled blocks up in the fingerprint index too. */
    private void match(ByteBuffer plain, int base, long[] hashes, boolean[] zero, Entry[] from, int[] fromBlock, List<Entry> used,
                       BlockFingerprints fp, ChunkCodec codec, ChunkId excluded, boolean useIndex) throws IOException {
        int blocks = hashes.length;
        for (int b = 0; b < blocks; b++) {
            if (from[b] != null || zero[b]) {
                continue; // zero blocks cost nothing compressed: never worth a lookup
            }
            BlockRef c = recent.block(hashes[b]);
            if (c == null && useIndex && used.size() < MAX_SOURCES && BlockFingerprints.sampled(hashes[b])) {
                c = fromIndex(hashes[b], plain, base + b * BLOCK, fp, codec, excluded);
            }
            if (c == null || c.entry().id().equals(excluded) || !(used.contains(c.entry()) || used.size() < MAX_SOURCES) || !equal(plain, base, b, c.entry(), c.block())) {
                continue;
            }
            if (!used.contains(c.entry())) {
                used.add(c.entry());
            }
            // Extend both ways while the blocks keep matching at the same shift.
            for (int k = 0; b - k >= 0 && c.block() - k >= 0 && from[b - k] == null
                    && (k == 0 || equal(plain, base, b - k, c.entry(), c.block() - k)); k++) {
                from[b - k] = c.entry();
                fromBlock[b - k] = c.block() - k;
            }
            for (int k = 1; b + k < blocks && c.block() + k < c.entry().blocks() && equal(plain, base, b + k, c.entry(), c.block() + k); k++) {
                from[b + k] = c.entry();
                fromBlock[b + k] = c.block() + k;
            }
        }
    }

    private static boolean uncovered(Entry[] from, boolean[] zero) {
        for (int b = 0; b < from.length; b++) {
            if (from[b] == null && !zero[b]) {
                return true;
            }
        }
        return false;
    }

    private boolean equal(ByteBuffer plain, int base, int block, Entry s, int sourceBlock) {
        return recent.equal(plain, base + block * BLOCK, s, sourceBlock);
    }

    private static List<Fingerprint> sampled(long[] hashes, boolean[] zero, ByteBuffer plain, int base, BlockFingerprints fp) {
        List<Fingerprint> out = new ArrayList<>(2);
        for (int b = 0; b < hashes.length; b++) {
            if (!zero[b] && BlockFingerprints.sampled(hashes[b])) {
                out.add(new Fingerprint(fp.key(hashes[b], plain, base + b * BLOCK), b));
            }
        }
        return out;
    }

    /** The fingerprint index's candidate for a sampled block, its chunk read back; null if none serves. */
    private BlockRef fromIndex(long hash, ByteBuffer plain, int at, BlockFingerprints fp, ChunkCodec codec, ChunkId excluded)
            throws IOException {
        byte[] v = ctx.db().get(ctx.db().fingerprints(), fp.key(hash, plain, at));
        if (v == null || v.length != ChunkId.LENGTH + 2) {
            return null;
        }
        ChunkId sourceId = ChunkId.copyOf(v, 0);
        if (sourceId.equals(excluded)) {
            return null;
        }
        int block = ((v[ChunkId.LENGTH] & 0xFF) << 8) | (v[ChunkId.LENGTH + 1] & 0xFF);
        Entry s = load(sourceId, codec, fp);
        return s == null || block >= s.blocks() ? null : new BlockRef(s, block);
    }

    /** Reads a published plain chunk and keeps it among the recent chunks; null if it cannot serve. */
    private Entry load(ChunkId id, ChunkCodec codec, BlockFingerprints fp) throws IOException {
        Entry known = recent.get(id);
        if (known != null) {
            return known;
        }
        if (ctx.fence().isCondemned(id)) {
            return null;
        }
        ChunkLocation loc = ctx.db().location(id);
        if (loc == null || ChunkReads.isRecipe(loc)) {
            return null; // swept since it was sampled, or a recipe: never a source (reads stay one level deep)
        }
        return recent.add(id, slot -> {
            try {
                ChunkReads.readPlain(ctx, codec, id, loc, slot, false);
                return true;
            } catch (ChunkDamagedException e) {
                return false; // verify reports it; the new chunk is simply stored whole
            }
        }, null, fp, codec);
    }

    /** Runs of referenced blocks (same source, consecutive source blocks) and literal runs between them. */
    private static Recipe toRecipe(ByteBuffer plain, int base, int blocks, Entry[] from, int[] fromBlock, List<Entry> used) {
        List<Recipe.Part> parts = new ArrayList<>();
        int length = plain.remaining();
        int b = 0;
        while (b < blocks) {
            int e = b + 1;
            if (from[b] == null) {
                while (e < blocks && from[e] == null) {
                    e++;
                }
                int end = e == blocks ? length : e * BLOCK; // the literal takes a partial last block too
                byte[] bytes = new byte[end - b * BLOCK];
                plain.get(base + b * BLOCK, bytes);
                parts.add(new Recipe.Literal(bytes));
                if (e == blocks) {
                    return new Recipe(length, used.stream().map(Entry::id).toList(), parts);
                }
            } else {
                while (e < blocks && from[e] == from[b] && fromBlock[e] == fromBlock[b] + (e - b)) {
                    e++;
                }
                parts.add(new Recipe.Ref(used.indexOf(from[b]), fromBlock[b] * BLOCK, (e - b) * BLOCK));
            }
            b = e;
        }
        if (blocks * BLOCK < length) {
            byte[] tail = new byte[length - blocks * BLOCK];
            plain.get(base + blocks * BLOCK, tail);
            parts.add(new Recipe.Literal(tail));
        }
        return new Recipe(length, used.stream().map(Entry::id).toList(), parts);
    }
}
