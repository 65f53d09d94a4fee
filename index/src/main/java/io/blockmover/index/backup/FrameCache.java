package io.blockmover.index.backup;

import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.chunk.FrameCodec;
import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.pack.PackRecords;
import io.blockmover.index.pack.PackStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The frames a disk reader decoded last, so that the chunks of one frame cost one decode between
 * them, not one each: a restore reads a frame's chunks one after the other (on several threads at
 * once), an exported disk's guest reads neighbouring chunks. A frame is decoded by one thread
 * while the others that need it wait for it. The first read of a frame decodes only up to the
 * end of the chunk it needs (a random 4 KiB read of a frame's first chunk costs that chunk's
 * decompression); a second read that needs more decodes the whole frame. Each chunk is checked
 * against its digest the first time it is served from the frame.
 *
 * <p>Bounded: {@value #FRAMES} frames (16 MiB at 1 MiB frames) per reader; decoded bytes are
 * immutable arrays, so a reader copying from an evicted frame still sees its bytes.
 */
final class FrameCache {
    static final int FRAMES = 16;

    private record Key(long packId, long offset) {
    }

    private static final class Frame {
        /** The plaintext decoded so far (a prefix of the frame, or all of it). */
        volatile byte[] plain;
        /** Frame offsets of the chunks whose digest has been checked. */
        final Set<Integer> verified = ConcurrentHashMap.newKeySet();
    }

    private final PackStore packs;
    private final Map<Key, Frame> frames = new LinkedHashMap<>(32, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, Frame> eldest) {
            return size() > FRAMES;
        }
    };

    FrameCache(PackStore packs) {
        this.packs = packs;
    }

    /**
     * Writes the chunk {@code id} at framed location {@code loc} into {@code dst} from its
     * position; returns its length. A damaged frame is the damage of each chunk read from it.
     */
    int read(ChunkId id, ChunkLocation loc, ByteBuffer dst, ChunkCodec codec) throws IOException {
        return read(id, loc, dst, codec, false);
    }

    /**
     * {@link #read(ChunkId, ChunkLocation, ByteBuffer, ChunkCodec)}; {@code inOrder}: the caller
     * reads the frame's following chunks next (a restore), so the whole frame is decoded at once.
     */
    int read(ChunkId id, ChunkLocation loc, ByteBuffer dst, ChunkCodec codec, boolean inOrder) throws IOException {
        int end = loc.frameOffset() + loc.plainLength();
        if (dst.remaining() < loc.plainLength()) {
            throw new IllegalArgumentException("destination has " + dst.remaining() + " bytes, chunk needs " + loc.plainLength());
        }
        Key key = new Key(loc.packId(), loc.offset());
        Frame f;
        synchronized (frames) {
            f = frames.computeIfAbsent(key, k -> new Frame());
        }
        byte[] plain = f.plain;
        if (plain == null || plain.length < end) {
            try {
                plain = decode(f, id, loc, inOrder ? loc.framePlainLength() : end, codec);
            } catch (ChunkDamagedException e) {
                synchronized (frames) {
                    frames.remove(key, f); // the next read tries again: the damage may have been a passing read error
                }
                throw e;
            }
        }
        ByteBuffer chunk = ByteBuffer.wrap(plain, loc.frameOffset(), loc.plainLength());
        if (!f.verified.contains(loc.frameOffset())) {
            if (!codec.digest(chunk).equals(id)) {
                throw new ChunkDamagedException(id.hex(), "content does not match its digest");
            }
            f.verified.add(loc.frameOffset());
        }
        dst.put(chunk);
        return loc.plainLength();
    }

    /** Decodes at least the first {@code need} bytes of the frame, unless another thread has. */
    private byte[] decode(Frame f, ChunkId id, ChunkLocation loc, int need, ChunkCodec codec) throws IOException {
        int end = loc.frameOffset() + loc.plainLength();
        synchronized (f) {
            byte[] plain = f.plain;
            if (plain != null && plain.length >= end) {
                return plain; // another thread decoded it meanwhile
            }
            FrameCodec frames = codec.frames();
            PackRecords.FramePayload p = PackRecords.readFrame(packs, loc, id, frames.recordBuffer(loc.recordLength()), true);
            // A frame read a second time is being read in order: decode all of it at once.
            int upTo = plain == null ? need : loc.framePlainLength();
            plain = frames.decodeToArray(p, upTo, id.hex());
            f.plain = plain;
            return plain;
        }
    }
}
