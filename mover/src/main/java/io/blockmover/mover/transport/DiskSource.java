package io.blockmover.mover.transport;

import io.blockmover.nbd.units.ByteRange;

import io.netty.buffer.ByteBuf;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A disk to read from, whatever the transport (NBD, VDDK, a file). Every call is asynchronous
 * so a caller keeps many requests in flight; a future may complete on a transport thread, so
 * a consumer does its slow work elsewhere.
 *
 * <p>Reads hand back a reference-counted buffer owned by the caller (who must release it):
 * a transport fills it once from the wire or the library and nobody copies it again.
 */
public interface DiskSource extends AutoCloseable {

    /** Size of the disk in bytes. */
    long capacity();

    /** Sizes every request must respect. */
    BlockConstraints blockConstraints();

    /**
     * Allocation of {@code [offset, offset + length)}: consecutive extents covering the range
     * exactly. A source that cannot tell reports the whole range as {@link DiskExtent.Kind#DATA}.
     */
    CompletableFuture<List<DiskExtent>> extents(long offset, long length);

    /**
     * Reads {@code length} bytes at {@code offset}. The buffer holds exactly {@code length}
     * readable bytes; the caller releases it. A range the disk cannot read fails with
     * {@link DiskIoException} carrying its offset.
     */
    CompletableFuture<ByteBuf> read(long offset, int length);

    /**
     * The areas written since the point identified by {@code changeToken} (a changeId of the
     * emulated host or vSphere CBT, or a transport-specific name such as a qemu dirty bitmap),
     * as sorted, non-overlapping byte ranges over the whole disk. Fails with
     * {@link UnsupportedOperationException} when this source cannot track changes.
     */
    default CompletableFuture<List<ByteRange>> changedSince(String changeToken) {
        return CompletableFuture.failedFuture(new UnsupportedOperationException(
                "this disk source cannot report changed areas"));
    }

    /** Waits for nothing: outstanding requests fail; resources are released. */
    @Override
    void close();
}
