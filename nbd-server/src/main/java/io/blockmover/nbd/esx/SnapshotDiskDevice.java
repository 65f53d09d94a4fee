package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.BlockDevice;
import io.blockmover.nbd.server.BlockSizes;
import io.blockmover.nbd.server.Extent;
import io.blockmover.nbd.server.StatusContext;
import io.netty.buffer.ByteBuf;

import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * A snapshot disk as a read-only NBD export. Besides {@code base:allocation} it answers the meta
 * context {@code blockmover:changed:<changeId>} (flag 1 = changed between that changeId and this
 * snapshot), so an NBD-only client can run incrementals as with qemu's dirty bitmaps.
 */
final class SnapshotDiskDevice implements BlockDevice {
    static final String CHANGED_PREFIX = "blockmover:changed:";

    private final VirtualMachine vm;
    private final SnapshotDisk disk;

    SnapshotDiskDevice(VirtualMachine vm, SnapshotDisk disk) {
        this.vm = vm;
        this.disk = disk;
    }

    @Override
    public long size() {
        return disk.capacity();
    }

    /** As {@link LiveDiskDevice#servesInline()}. */
    @Override
    public boolean servesInline() {
        return true;
    }

    @Override
    public boolean isReadOnly() {
        return true;
    }

    @Override
    public BlockSizes blockSizes() {
        return LiveDiskDevice.SIZES;
    }

    @Override
    public void read(long offset, int length, ByteBuf dst) {
        disk.read(offset, length, dst);
    }

    @Override
    public void write(long offset, ByteBuf src) throws IOException {
        throw readOnly();
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayPunchHole) throws IOException {
        throw readOnly();
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        throw readOnly();
    }

    private IOException readOnly() {
        return new IOException("snapshot disk " + disk.spec().fileName() + " is read-only");
    }

    @Override
    public void flush() {
        // nothing to persist: a snapshot never changes
    }

    @Override
    public List<Extent> extents(long offset, long length) {
        return disk.extents(offset, length);
    }

    @Override
    public Optional<StatusContext> metaContext(String name) {
        if (!name.startsWith(CHANGED_PREFIX)) {
            return Optional.empty();
        }
        long since;
        try {
            since = disk.validate(name.substring(CHANGED_PREFIX.length()));
        } catch (ChangeIdFault e) {
            return Optional.empty();
        }
        return Optional.of(new StatusContext() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public List<Extent> status(long offset, long length) {
                return disk.changedStatus(since, offset, length);
            }
        });
    }

    /** The contexts for the changeIds of this disk's other snapshots that are still valid here. */
    @Override
    public List<String> listMetaContexts(String prefix) {
        return vm.snapshots().stream()
                .flatMap(s -> s.disk(disk.spec().deviceKey()).stream())
                .flatMap(d -> d.changeId().stream())
                .map(ChangeId::toString)
                .filter(id -> {
                    try {
                        disk.validate(id);
                        return true;
                    } catch (ChangeIdFault e) {
                        return false;
                    }
                })
                .map(id -> CHANGED_PREFIX + id)
                .filter(n -> n.startsWith(prefix))
                .toList();
    }
}
