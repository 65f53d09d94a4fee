package io.blockmover.mover.export;

import io.blockmover.index.backup.DiskReader;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.nbd.server.BlockDevice;
import io.blockmover.nbd.server.Extent;
import io.netty.buffer.ByteBuf;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One disk of a backup as a read-only NBD device. Every chunk is checked against its digest as it
 * is read; a damaged one fails only the requests that touch it (EIO), is logged once with backup,
 * disk and offset, and the rest of the disk keeps being served. Zero chunks are reported as holes
 * that read as zeros, so copying clients skip them.
 */
final class BackupDisk implements BlockDevice {
    private static final Logger LOG = LoggerFactory.getLogger(BackupDisk.class);
    /** BLOCK_STATUS answers at most this many chunks at once: bounded work per request, whatever the disk size. */
    private static final int MAX_STATUS_CHUNKS = 1 << 16;

    private final long backupId;
    private final DiskReader reader;
    private final ChunkCache cache;
    private final int chunkSize;
    private final Set<Long> damagedLogged = ConcurrentHashMap.newKeySet();

    BackupDisk(long backupId, DiskReader reader, ChunkCache cache) {
        this.backupId = backupId;
        this.reader = reader;
        this.cache = cache;
        this.chunkSize = reader.chunkSize();
    }

    String diskId() {
        return reader.disk().diskId();
    }

    int chunkSize() {
        return chunkSize;
    }

    @Override
    public long size() {
        return reader.capacity();
    }

    @Override
    public boolean isReadOnly() {
        return true;
    }

    @Override
    public void read(long offset, int length, ByteBuf dst) throws IOException {
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long chunkStart = pos - pos % chunkSize;
            int chunkLength = chunkLength(chunkStart);
            int within = (int) (pos - chunkStart);
            int n = (int) Math.min(chunkLength - within, end - pos);
            ChunkId id = chunkAt(chunkStart);
            if (id == null) {
                dst.writeZero(n);
            } else if (n == chunkLength) {
                whole(id, chunkStart, n, dst);
            } else {
                part(id, chunkStart, chunkLength, within, n, dst);
            }
            pos += n;
        }
    }

    /**
     * A whole chunk (a sequential copy): from the cache, or decoded and checked straight into the
     * reply's buffer, then copied into the cache if it admits the chunk.
     */
    private void whole(ChunkId id, long chunkStart, int n, ByteBuf dst) throws IOException {
        ByteBuf data = cache.get(id);
        if (data != null) {
            try {
                dst.writeBytes(data, 0, n);
            } finally {
                data.release();
            }
            return;
        }
        int at = dst.writerIndex();
        dst.ensureWritable(n);
        decode(chunkStart, dst.nioBuffer(at, n));
        dst.writerIndex(at + n);
        if (cache.admitsWhole(id, n)) {
            ByteBuf copy = cache.allocate(n);
            copy.writeBytes(dst, at, n);
            cache.putWhole(id, copy);
        }
    }

    /** Part of a chunk (a guest's small read): from the cache, or the whole chunk decoded into it first. */
    private void part(ChunkId id, long chunkStart, int chunkLength, int within, int n, ByteBuf dst) throws IOException {
        ByteBuf data = cache.get(id);
        if (data == null) {
            data = cache.allocate(chunkLength);
            try {
                decode(chunkStart, data.nioBuffer(0, chunkLength));
            } catch (IOException | RuntimeException e) {
                data.release();
                throw e;
            }
            data.writerIndex(chunkLength);
            cache.putPart(id, data.retain());
        }
        try {
            dst.writeBytes(data, within, n);
        } finally {
            data.release();
        }
    }

    /** Decodes and digest-checks the chunk at {@code chunkStart} into {@code dst}; damage becomes an IOException. */
    private void decode(long chunkStart, ByteBuffer dst) throws IOException {
        try {
            reader.read(chunkStart, dst);
        } catch (RepositoryException e) {
            int length = chunkLength(chunkStart);
            if (damagedLogged.add(chunkStart)) {
                LOG.error("backup {} disk {}: the chunk at offset {} ({} bytes) cannot be read: {}; reads of it answer EIO",
                        backupId, diskId(), chunkStart, length, e.getMessage());
            }
            throw new IOException("backup " + backupId + " disk " + diskId() + ": chunk at offset " + chunkStart
                    + " is damaged: " + e.getMessage(), e);
        }
    }

    private ChunkId chunkAt(long chunkStart) throws IOException {
        try {
            return reader.chunkAt(chunkStart);
        } catch (RepositoryException e) {
            throw new IOException("backup " + backupId + " disk " + diskId() + ": manifest at offset " + chunkStart
                    + " cannot be read: " + e.getMessage(), e);
        }
    }

    private int chunkLength(long chunkStart) {
        return reader.disk().chunkLength(chunkStart / chunkSize);
    }

    /** True when the chunk at {@code chunkStart} is a zero chunk of the manifest. */
    boolean isZeroChunk(long chunkStart) throws IOException {
        return chunkAt(chunkStart) == null;
    }

    @Override
    public List<Extent> extents(long offset, long length) throws IOException {
        return extents(offset, length, chunkStart -> isZeroChunk(chunkStart) ? Extent.HOLE | Extent.ZERO : 0);
    }

    /** How one chunk reports in {@code base:allocation}. */
    interface ChunkStatus {
        int flags(long chunkStart) throws IOException;
    }

    /** Runs of equal status from {@code offset}, at most {@link #MAX_STATUS_CHUNKS} chunks' worth. */
    List<Extent> extents(long offset, long length, ChunkStatus status) throws IOException {
        List<Extent> out = new ArrayList<>();
        long pos = offset;
        long end = Math.min(offset + length, size());
        int runFlags = -1;
        long runLength = 0;
        for (int chunks = 0; pos < end && chunks < MAX_STATUS_CHUNKS; chunks++) {
            long chunkStart = pos - pos % chunkSize;
            long n = Math.min(chunkStart + chunkLength(chunkStart), end) - pos;
            int flags = status.flags(chunkStart);
            if (flags != runFlags && runLength > 0) {
                out.add(new Extent(runLength, runFlags));
                runLength = 0;
            }
            runFlags = flags;
            runLength += n;
            pos += n;
        }
        if (runLength > 0) {
            out.add(new Extent(runLength, runFlags));
        }
        return out;
    }

    @Override
    public void write(long offset, ByteBuf src) throws IOException {
        throw new IOException("backup " + backupId + " is exported read-only");
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayPunchHole) throws IOException {
        throw new IOException("backup " + backupId + " is exported read-only");
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        throw new IOException("backup " + backupId + " is exported read-only");
    }

    @Override
    public void flush() {
        // Nothing is ever written.
    }
}
