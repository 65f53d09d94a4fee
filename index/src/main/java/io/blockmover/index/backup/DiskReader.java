package io.blockmover.index.backup;

import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.db.IndexSnapshot;
import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.manifest.ManifestKeys;
import io.blockmover.index.manifest.ManifestStore;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads one disk of a backup by byte offset. {@link #read} is thread-safe, so a restore can keep
 * many chunks in flight; every chunk is checked against its digest before it is returned.
 */
public final class DiskReader {
    private static final int CACHED_SEGMENTS = 64;

    private final RepoContext ctx;
    private final IndexSnapshot index;
    private final ManifestStore manifests;
    private final long backupId;
    private final DiskRecord disk;
    private final FrameCache frames;
    /** A few recently used manifest segments (32 KiB each): bounded, whatever the disk size. */
    private final Map<Integer, byte[]> segments = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Integer, byte[]> eldest) {
            return size() > CACHED_SEGMENTS;
        }
    };

    DiskReader(RepoContext ctx, IndexSnapshot index, ManifestStore manifests, long backupId, DiskRecord disk) {
        this.ctx = ctx;
        this.index = index;
        this.manifests = manifests;
        this.backupId = backupId;
        this.disk = disk;
        this.frames = new FrameCache(ctx.packs());
    }

    public DiskRecord disk() {
        return disk;
    }

    public long capacity() {
        return disk.capacity();
    }

    public int chunkSize() {
        return disk.chunkSize();
    }

    /** The most chunks one frame of this repository holds (1: every chunk a record of its own). */
    public int frameChunks() {
        return Math.max(1, ctx.frameSize() / disk.chunkSize());
    }

    /** The id of the chunk at {@code offset}, or null for a zero chunk. */
    public ChunkId chunkAt(long offset) {
        long i = indexOf(offset);
        int seg = (int) (i / ManifestKeys.SEGMENT_ENTRIES);
        byte[] s;
        synchronized (segments) {
            s = segments.get(seg);
        }
        if (s == null) {
            s = manifests.segment(backupId, disk, seg);
            synchronized (segments) {
                segments.put(seg, s);
            }
        }
        int at = (int) (i % ManifestKeys.SEGMENT_ENTRIES) * ManifestKeys.ENTRY;
        return ChunkId.isZeroMarker(s, at) ? null : ChunkId.copyOf(s, at);
    }

    /**
     * True when {@code data} (its remaining bytes, not moved) is what this disk holds at the chunk
     * at {@code offset}: a zero chunk by content, any other by the repository's digest, without
     * reading a pack. How a backup is compared with its source.
     */
    public boolean holds(long offset, ByteBuffer data) {
        ChunkId expected = chunkAt(offset);
        ChunkCodec codec = ctx.codecs().borrow();
        try {
            return expected == null ? codec.isZero(data) : !codec.isZero(data) && codec.digest(data).equals(expected);
        } finally {
            ctx.codecs().release(codec);
        }
    }

    public boolean isZero(long offset) {
        return chunkAt(offset) == null;
    }

    /**
     * Writes the chunk at {@code offset} into {@code dst} from its position (zeros for a zero
     * chunk) and returns its length. Throws {@link ChunkDamagedException} if it cannot be read back
     * exactly as written.
     */
    public int read(long offset, ByteBuffer dst) throws IOException {
        return read(offset, dst, false);
    }

    /**
     * {@link #read}, for a reader that reads the chunks after this one next (a restore's piece of
     * work): a frame is decoded whole at once, not first up to this chunk's end.
     */
    public int readInOrder(long offset, ByteBuffer dst) throws IOException {
        return read(offset, dst, true);
    }

    private int read(long offset, ByteBuffer dst, boolean inOrder) throws IOException {
        ChunkId id = chunkAt(offset);
        int length = disk.chunkLength(offset / disk.chunkSize());
        if (dst.remaining() < length) {
            throw new IllegalArgumentException("destination has " + dst.remaining() + " bytes, chunk needs " + length);
        }
        if (id == null) {
            int i = 0;
            for (; i + 8 <= length; i += 8) {
                dst.putLong(0);
            }
            for (; i < length; i++) {
                dst.put((byte) 0);
            }
            return length;
        }
        ChunkLocation loc = index.location(id);
        if (loc == null) {
            throw new ChunkDamagedException(id.hex(), "missing from the index");
        }
        ChunkCodec codec = ctx.codecs().borrow();
        try {
            if (loc.framed()) {
                int got = frames.read(id, loc, dst, codec, inOrder);
                if (got != length) {
                    throw new ChunkDamagedException(id.hex(), "holds " + got + " bytes where the disk needs " + length);
                }
                return got;
            }
            int got = ChunkReads.read(ctx, codec, index::location, id, loc, dst, true);
            if (got != length) {
                throw new ChunkDamagedException(id.hex(), "holds " + got + " bytes where the disk needs " + length);
            }
            return got;
        } finally {
            ctx.codecs().release(codec);
        }
    }

    /** Streams the whole disk, zeros included, to {@code out}, one chunk at a time. */
    public void transferTo(WritableByteChannel out) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(disk.chunkSize());
        for (long off = 0; off < disk.capacity(); off += disk.chunkSize()) {
            buf.clear();
            read(off, buf);
            buf.flip();
            while (buf.hasRemaining()) {
                out.write(buf);
            }
        }
    }

    private long indexOf(long offset) {
        if (offset < 0 || offset >= disk.capacity() || offset % disk.chunkSize() != 0) {
            throw new IllegalArgumentException("offset " + offset + " is not a chunk boundary inside the disk (capacity "
                    + disk.capacity() + ")");
        }
        return offset / disk.chunkSize();
    }
}
