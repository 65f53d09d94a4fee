package io.blockmover.index.backup;

import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.chunk.FrameCodec;
import io.blockmover.index.chunk.Recipe;
import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.pack.PackRecords;
import io.blockmover.index.pack.PackRecords.ChunkPayload;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Reads a chunk's plaintext by its index entry, whatever it is stored as: a plain record (one read,
 * decode, digest check) or a recipe (sub-chunk dedup: its body, then each source chunk it refers to,
 * looked up in the same index view, then the digest of the reassembled plaintext). Restores,
 * exports, verify and the recipe builder all read through here, so a recipe is as readable as any
 * chunk wherever a chunk is read.
 */
public final class ChunkReads {
    /** Where a chunk is, in the index view the read belongs to (a restore's snapshot, say). */
    @FunctionalInterface
    public interface Locator {
        ChunkLocation location(ChunkId id);
    }

    private ChunkReads() {
    }

    public static boolean isRecipe(ChunkLocation loc) {
        return (loc.flags() & PackFormat.FLAG_RECIPE) != 0;
    }

    /**
     * Writes chunk {@code id}'s plaintext into {@code dst} from its position and returns its length;
     * {@link ChunkDamagedException} if it cannot be read back exactly as written (for a recipe, also
     * when a source is missing or damaged). {@code inOrder}: part of a sequential pass (read-ahead).
     */
    public static int read(RepoContext ctx, ChunkCodec codec, Locator index, ChunkId id, ChunkLocation loc, ByteBuffer dst,
                           boolean inOrder) throws IOException {
        if (!isRecipe(loc)) {
            return readPlain(ctx, codec, id, loc, dst, inOrder);
        }
        Recipe recipe = readRecipe(ctx, codec, id, loc, inOrder);
        if (dst.remaining() < recipe.length()) {
            throw new IllegalArgumentException("destination has " + dst.remaining() + " bytes, chunk needs " + recipe.length());
        }
        int start = dst.position();
        ByteBuffer source = ByteBuffer.allocate(codec.chunkSize());
        int loaded = -1;
        int sourceLength = 0;
        for (Recipe.Part part : recipe.parts()) {
            switch (part) {
                case Recipe.Literal l -> dst.put(l.bytes());
                case Recipe.Ref r -> {
                    if (r.source() != loaded) {
                        sourceLength = readSource(ctx, codec, index, id, recipe.sources().get(r.source()), source.clear(), inOrder);
                        loaded = r.source();
                    }
                    if ((long) r.sourceOffset() + r.length() > sourceLength) {
                        throw new ChunkDamagedException(id.hex(), "recipe refers past the end of source " + recipe.sources().get(r.source()).hex());
                    }
                    dst.put(source.slice(r.sourceOffset(), r.length()));
                }
            }
        }
        if (!codec.digest(dst.duplicate().flip().position(start)).equals(id)) {
            throw new ChunkDamagedException(id.hex(), "reassembled recipe does not match its digest");
        }
        return recipe.length();
    }

    private static int readSource(RepoContext ctx, ChunkCodec codec, Locator index, ChunkId recipe, ChunkId source, ByteBuffer dst,
                                  boolean inOrder) throws IOException {
        ChunkLocation loc = index.location(source);
        if (loc == null) {
            throw new ChunkDamagedException(recipe.hex(), "recipe source " + source.hex() + " is missing from the index");
        }
        if (isRecipe(loc)) {
            throw new ChunkDamagedException(recipe.hex(), "recipe source " + source.hex() + " is itself a recipe");
        }
        try {
            return readPlain(ctx, codec, source, loc, dst, inOrder);
        } catch (ChunkDamagedException e) {
            throw new ChunkDamagedException(recipe.hex(), "recipe source " + source.hex() + ": " + e.reason());
        }
    }

    /** A plain chunk's record read and decoded into {@code dst}, digest checked. */
    static int readPlain(RepoContext ctx, ChunkCodec codec, ChunkId id, ChunkLocation loc, ByteBuffer dst, boolean inOrder)
            throws IOException {
        if (loc.framed()) {
            return readFramed(ctx, codec, id, loc, dst, inOrder);
        }
        ByteBuffer rec = readRecord(ctx, codec, id, loc, inOrder);
        return codec.decode(PackRecords.openChunk(rec, id, codec.chunkSize()), id, dst);
    }

    /**
     * A chunk inside a frame (format 4), read without a frame cache (a recipe's source, say): its
     * frame read and checked, decoded up to the chunk's end, the chunk's digest checked.
     */
    static int readFramed(RepoContext ctx, ChunkCodec codec, ChunkId id, ChunkLocation loc, ByteBuffer dst, boolean inOrder)
            throws IOException {
        if (dst.remaining() < loc.plainLength()) {
            throw new IllegalArgumentException("destination has " + dst.remaining() + " bytes, chunk needs " + loc.plainLength());
        }
        FrameCodec frames = codec.frames();
        PackRecords.FramePayload f = PackRecords.readFrame(ctx.packs(), loc, id, frames.recordBuffer(loc.recordLength()), inOrder);
        byte[] plain = frames.decodeToArray(f, loc.frameOffset() + loc.plainLength(), id.hex());
        ByteBuffer chunk = ByteBuffer.wrap(plain, loc.frameOffset(), loc.plainLength());
        if (!codec.digest(chunk).equals(id)) {
            throw new ChunkDamagedException(id.hex(), "content does not match its digest");
        }
        dst.put(chunk);
        return loc.plainLength();
    }

    /** A recipe's record read, its framing, encryption and compression checked, and its body parsed. */
    private static Recipe readRecipe(RepoContext ctx, ChunkCodec codec, ChunkId id, ChunkLocation loc, boolean inOrder) throws IOException {
        return openRecipe(codec, id, readRecord(ctx, codec, id, loc, inOrder));
    }

    /**
     * Checks a record read whole into {@code rec} as far as it can be checked alone: a plain chunk
     * fully (into {@code scratch}), a recipe up to its parsed body (its sources are other records).
     */
    public static void checkRecord(ChunkCodec codec, ChunkId id, ByteBuffer rec, ByteBuffer scratch) {
        ChunkPayload p = PackRecords.openChunk(rec, id, codec.chunkSize());
        if ((p.flags() & PackFormat.FLAG_RECIPE) == 0) {
            codec.decode(p, id, scratch);
        } else {
            openRecipe(codec, id, rec);
        }
    }

    private static Recipe openRecipe(ChunkCodec codec, ChunkId id, ByteBuffer rec) {
        ChunkPayload p = PackRecords.openChunk(rec, id, codec.chunkSize());
        List<ChunkId> sources = Recipe.decodeSources(p.payload(), id.hex());
        ByteBuffer body = ByteBuffer.allocate(codec.chunkSize());
        codec.decodeRecipeBody(p, Recipe.sourcesLength(sources.size()), id, body);
        return Recipe.decodeBody(sources, body.flip(), codec.chunkSize(), id.hex());
    }

    /** The whole record of {@code id} in the codec's record buffer, flipped; a short or missing pack is the chunk's damage. */
    private static ByteBuffer readRecord(RepoContext ctx, ChunkCodec codec, ChunkId id, ChunkLocation loc, boolean inOrder)
            throws IOException {
        ByteBuffer rec = codec.recordBuffer();
        if (loc.recordLength() > rec.capacity() || loc.payloadLength() < 0) {
            throw new ChunkDamagedException(id.hex(), "index entry has an impossible length");
        }
        rec.limit(loc.recordLength());
        int n;
        try {
            n = inOrder ? ctx.packs().readInOrder(loc.packId(), loc.offset(), rec) : ctx.packs().read(loc.packId(), loc.offset(), rec);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new ChunkDamagedException(id.hex(), "pack " + Long.toHexString(loc.packId()) + " is missing");
        }
        if (n < loc.recordLength()) {
            throw new ChunkDamagedException(id.hex(), "pack " + Long.toHexString(loc.packId()) + " is truncated");
        }
        return rec.flip();
    }
}
