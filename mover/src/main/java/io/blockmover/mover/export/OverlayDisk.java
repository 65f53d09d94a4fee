package io.blockmover.mover.export;

import io.blockmover.nbd.server.BlockDevice;
import io.blockmover.nbd.server.Extent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A writable export: reads come from the overlay where the guest wrote, else from the backup;
 * writes go to the overlay only. The first write to a chunk copies the backup's chunk into the
 * overlay under that chunk's lock, so a partial write never leaves the rest of the chunk unknown.
 */
final class OverlayDisk implements BlockDevice {
    private static final int STRIPES = 64;

    private final BackupDisk base;
    private final Overlay overlay;
    private final int chunkSize;
    private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];

    OverlayDisk(BackupDisk base, Overlay overlay) {
        this.base = base;
        this.overlay = overlay;
        this.chunkSize = base.chunkSize();
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new ReentrantLock();
        }
    }

    @Override
    public long size() {
        return base.size();
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public void read(long offset, int length, ByteBuf dst) throws IOException {
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long chunkStart = pos - pos % chunkSize;
            int n = (int) (Math.min(chunkStart + chunkSize, end) - pos);
            if (overlay.holds(chunkStart)) {
                overlay.read(pos, n, dst);
            } else {
                base.read(pos, n, dst);
            }
            pos += n;
        }
    }

    @Override
    public void write(long offset, ByteBuf src) throws IOException {
        ByteBuffer data = src.nioBuffer();
        long pos = offset;
        while (data.hasRemaining()) {
            long chunkStart = pos - pos % chunkSize;
            int n = (int) Math.min(chunkStart + chunkSize - pos, data.remaining());
            ByteBuffer piece = data.slice(data.position(), n);
            writePiece(chunkStart, pos, piece);
            data.position(data.position() + n);
            pos += n;
        }
    }

    /** Writes {@code piece} at {@code pos} inside the chunk at {@code chunkStart}, copying the chunk in first if needed. */
    private void writePiece(long chunkStart, long pos, ByteBuffer piece) throws IOException {
        ReentrantLock lock = stripes[(int) ((chunkStart / chunkSize) % STRIPES)];
        lock.lock();
        try {
            if (!overlay.holds(chunkStart)) {
                int chunkLength = (int) Math.min(chunkSize, size() - chunkStart);
                if (piece.remaining() < chunkLength) {
                    ByteBuf whole = Unpooled.buffer(chunkLength);
                    base.read(chunkStart, chunkLength, whole);
                    ByteBuffer merged = whole.nioBuffer();
                    merged.put((int) (pos - chunkStart), piece, piece.position(), piece.remaining());
                    overlay.write(chunkStart, merged);
                } else {
                    overlay.write(pos, piece);
                }
                overlay.mark(chunkStart);
            } else {
                overlay.write(pos, piece);
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayPunchHole) throws IOException {
        long pos = offset;
        long end = offset + length;
        ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(chunkSize, length));
        while (pos < end) {
            long chunkStart = pos - pos % chunkSize;
            int n = (int) (Math.min(chunkStart + chunkSize, end) - pos);
            writePiece(chunkStart, pos, zeros.clear().limit(n));
            pos += n;
        }
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        writeZeroes(offset, length, true);
    }

    @Override
    public void flush() throws IOException {
        overlay.flush();
    }

    @Override
    public List<Extent> extents(long offset, long length) throws IOException {
        return base.extents(offset, length, chunkStart -> overlay.holds(chunkStart) ? 0
                : base.isZeroChunk(chunkStart) ? Extent.HOLE | Extent.ZERO : 0);
    }
}
