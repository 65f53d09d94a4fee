package io.blockmover.mover.vsphere;

import com.vmware.vim25.FileFault;
import io.blockmover.mover.transport.BlockConstraints;
import io.blockmover.nbd.units.ByteRange;
import io.blockmover.mover.transport.DiskExtent;
import io.blockmover.mover.transport.DiskSource;
import io.netty.buffer.ByteBuf;

import java.io.IOException;
import java.rmi.RemoteException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A snapshot disk whose data comes from a transport and whose change information comes from
 * vCenter: changed areas by QueryChangedDiskAreas since a changeId, and, when a full backup is
 * expected, the allocated areas by QueryChangedDiskAreas("*"), falling back to the transport's own
 * allocation when vCenter refuses "*" (it does when CBT was enabled while snapshots existed).
 * When an incremental is expected the allocation comes from the transport: a "*" query walks
 * the whole disk on the host, the most expensive call of an incremental job.
 */
final class CbtDiskSource implements DiskSource {
    private final DiskSource data;
    private final VsphereControl control;
    private final String vmMoref;
    private final String snapshotMoref;
    private final int deviceKey;
    private final boolean allocationFromVcenter;

    CbtDiskSource(DiskSource data, VsphereControl control, String vmMoref, String snapshotMoref, int deviceKey,
                  boolean allocationFromVcenter) {
        this.allocationFromVcenter = allocationFromVcenter;
        this.data = data;
        this.control = control;
        this.vmMoref = vmMoref;
        this.snapshotMoref = snapshotMoref;
        this.deviceKey = deviceKey;
    }

    @Override
    public long capacity() {
        return data.capacity();
    }

    @Override
    public BlockConstraints blockConstraints() {
        return data.blockConstraints();
    }

    @Override
    public CompletableFuture<List<DiskExtent>> extents(long offset, long length) {
        if (!allocationFromVcenter || offset != 0 || length != capacity()) {
            return data.extents(offset, length);
        }
        try {
            return CompletableFuture.completedFuture(toExtents(query("*"), capacity()));
        } catch (FileFault e) {
            return data.extents(offset, length);
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        return data.read(offset, length);
    }

    @Override
    public CompletableFuture<List<ByteRange>> changedSince(String changeId) {
        try {
            return CompletableFuture.completedFuture(query(changeId));
        } catch (FileFault e) {
            return CompletableFuture.failedFuture(new IOException("vCenter refused changeId " + changeId + ": "
                    + (e.getMessage() == null ? "FileFault" : e.getMessage()), e));
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private List<ByteRange> query(String changeId) throws FileFault, IOException {
        try {
            return control.changedAreas(vmMoref, snapshotMoref, deviceKey, capacity(), changeId);
        } catch (FileFault e) {
            throw e;
        } catch (RemoteException e) {
            throw new VsphereException("QueryChangedDiskAreas of disk " + deviceKey + ": " + VcenterConnection.rootMessage(e));
        }
    }

    /** Allocated areas as DATA extents with HOLE extents between them, covering the whole disk. */
    static List<DiskExtent> toExtents(List<ByteRange> allocated, long capacity) {
        List<DiskExtent> out = new ArrayList<>();
        long pos = 0;
        for (ByteRange r : allocated) {
            if (r.offset() > pos) {
                out.add(new DiskExtent(pos, r.offset() - pos, DiskExtent.Kind.HOLE));
            }
            long start = Math.max(pos, r.offset());
            long end = Math.min(capacity, r.offset() + r.length());
            if (end > start) {
                out.add(new DiskExtent(start, end - start, DiskExtent.Kind.DATA));
                pos = end;
            }
        }
        if (pos < capacity) {
            out.add(new DiskExtent(pos, capacity - pos, DiskExtent.Kind.HOLE));
        }
        return out;
    }

    @Override
    public void close() {
        data.close();
    }
}
