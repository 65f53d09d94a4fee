package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.BlockDevice;
import io.blockmover.nbd.server.BlockSizes;
import io.blockmover.nbd.server.Extent;
import io.netty.buffer.ByteBuf;

import java.util.List;

/** A live disk as a read-write NBD export; writes go to the overlay and into CBT. */
final class LiveDiskDevice implements BlockDevice {
    /** Any byte granularity works; whole grains avoid a read-modify-write. */
    static final BlockSizes SIZES = new BlockSizes(1, Grains.SIZE, 32 << 20);

    private final VirtualDisk disk;

    LiveDiskDevice(VirtualDisk disk) {
        this.disk = disk;
    }

    @Override
    public long size() {
        return disk.capacity();
    }

    /**
     * Generated content and overlays live in memory. An image file is read with pread on the
     * event loop too: from the page cache that never waits; only the first read of an image not
     * yet cached waits for the disk, stalling that event loop's other connections meanwhile.
     * Worth it for an emulator: nbdcopy reads an image export 15-30% faster than through worker
     * threads, which read dozens of requests ahead into buffers long out of the CPU cache.
     */
    @Override
    public boolean servesInline() {
        return true;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public BlockSizes blockSizes() {
        return SIZES;
    }

    @Override
    public void read(long offset, int length, ByteBuf dst) {
        disk.read(offset, length, dst);
    }

    @Override
    public void write(long offset, ByteBuf src) {
        disk.write(offset, src);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayPunchHole) {
        disk.writeZeroes(offset, length, mayPunchHole);
    }

    @Override
    public void trim(long offset, long length) {
        disk.writeZeroes(offset, length, true);
    }

    @Override
    public void flush() {
        // the overlay lives in memory: every completed write is already visible
    }

    @Override
    public List<Extent> extents(long offset, long length) {
        return disk.extents(offset, length);
    }
}
