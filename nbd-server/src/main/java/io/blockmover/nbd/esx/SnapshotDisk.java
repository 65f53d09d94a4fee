package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.Extent;
import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.Optional;

/**
 * One disk as frozen by a snapshot: read-only, byte-identical however the live disk changes.
 * {@code changeId} is empty when CBT was off at snapshot time.
 */
public final class SnapshotDisk {
    private final VirtualDisk disk;
    private final DiskImage image;
    private final long sequence;
    private final Optional<ChangeId> changeId;

    SnapshotDisk(VirtualDisk disk, VirtualDisk.Frozen frozen) {
        this.disk = disk;
        this.image = frozen.image();
        this.sequence = frozen.sequence();
        this.changeId = frozen.changeId();
    }

    public VirtualDisk disk() {
        return disk;
    }

    public DiskSpec spec() {
        return disk.spec();
    }

    public Optional<ChangeId> changeId() {
        return changeId;
    }

    public long capacity() {
        return image.capacity();
    }

    public void read(long offset, int length, ByteBuf dst) {
        checkRange(offset, length);
        image.read(offset, length, dst);
    }

    public List<Extent> extents(long offset, long length) {
        checkRange(offset, length);
        return image.extents(offset, length);
    }

    /** Like vSphere's {@code QueryChangedDiskAreas(snapshot, deviceKey, startOffset, changeId)}. */
    public ChangedAreas changedAreas(String changeId, long startOffset) throws ChangeIdFault {
        checkRange(startOffset, 0);
        if ("*".equals(changeId)) {
            return image.allocatedAreas(startOffset);
        }
        return image.changedSince(disk.validate(changeId, sequence), startOffset);
    }

    /** Block status of the {@code blockmover:changed:<changeId>} context (flag 1 = changed). */
    List<Extent> changedStatus(long since, long offset, long length) {
        checkRange(offset, length);
        return image.changedStatus(since, offset, length);
    }

    /** The sequence of a changeId valid for this snapshot, or a fault. */
    long validate(String changeId) throws ChangeIdFault {
        return disk.validate(changeId, sequence);
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > capacity() || offset + length < 0) {
            throw new IndexOutOfBoundsException("range " + offset + "+" + length
                    + " outside disk of " + capacity() + " bytes");
        }
    }
}
