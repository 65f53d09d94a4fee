package io.blockmover.mover.transport.vddk;

import io.blockmover.mover.transport.BlockConstraints;
import io.blockmover.nbd.units.ByteRange;
import io.blockmover.mover.transport.DiskExtent;
import io.blockmover.mover.transport.DiskSource;
import io.blockmover.nativebridge.vddk.AlignedBuffers;
import io.blockmover.nativebridge.vddk.ByteExtent;
import io.blockmover.nativebridge.vddk.VddkUnavailableException;
import io.blockmover.nativebridge.vddk.VixDisk;
import io.blockmover.nativebridge.vddk.VixException;
import io.netty.buffer.ByteBuf;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A disk read through VDDK, over one or more handles of it taken in turn: each read is either
 * pipelined with ReadAsync (the caller's requests in flight are VDDK's) or a synchronous Read
 * (each handle's worker serialises its own calls, so a handle has one read in flight).
 * Data lands in aligned native buffers from a pool and reaches the pipeline as ByteBufs over
 * them, without a copy.
 *
 * <p>Allocation comes from QueryAllocatedBlocks, probed once at open (nbdkit's lesson: it does
 * not work on every disk and transport); without it the whole disk counts as data.
 */
public final class VddkDiskSource implements DiskSource {
    private static final Logger log = LoggerFactory.getLogger(VddkDiskSource.class);
    /** QueryAllocatedBlocks' chunk: VDDK's minimum, 128 sectors. */
    static final int ALLOCATION_CHUNK = 64 << 10;
    private static final BlockConstraints CONSTRAINTS = new BlockConstraints(VixDisk.SECTOR_SIZE, 64 << 10, 16 << 20);

    private final VddkUri uri;
    private final VddkDisks disks;
    private final AlignedBuffers buffers = new AlignedBuffers(4096, 64);
    private final Optional<ChangedAreas> changes;
    private final boolean allocationKnown;
    private final AtomicInteger next = new AtomicInteger();
    private final boolean asyncReads;

    private VddkDiskSource(VddkUri uri, VddkDisks disks, Optional<ChangedAreas> changes, boolean allocationKnown,
                           boolean asyncReads) {
        this.uri = uri;
        this.asyncReads = asyncReads;
        this.disks = disks;
        this.changes = changes;
        this.allocationKnown = allocationKnown;
    }

    /** Opens the disk {@code uri} names, read-only, in the first of the allowed modes that works. */
    public static VddkDiskSource open(VddkUri uri, VddkSettings settings, Optional<ChangedAreas> changes)
            throws VddkUnavailableException, VixException {
        VddkDisks disks = VddkDisks.open(uri, settings, true, settings.handles());
        try {
            boolean allocationKnown = probeAllocation(disks.handles.getFirst(), uri);
            log.info("VDDK opened {} in mode {} ({} handle(s), {})", uri.describe(), disks.mode(), settings.handles(),
                    settings.asyncReads() ? "ReadAsync" : "Read");
            return new VddkDiskSource(uri, disks, changes, allocationKnown, settings.asyncReads());
        } catch (RuntimeException e) {
            disks.close();
            throw e;
        }
    }

    private static boolean probeAllocation(VixDisk disk, VddkUri uri) {
        long probe = Math.min(disk.capacity() / ALLOCATION_CHUNK * ALLOCATION_CHUNK, ALLOCATION_CHUNK);
        if (probe == 0) {
            return false;
        }
        try {
            disk.allocatedBlocks(0, probe, ALLOCATION_CHUNK).join();
            return true;
        } catch (CompletionException e) {
            log.warn("VDDK cannot tell the allocation of {} ({}); reading the whole disk", uri.describe(), e.getCause().getMessage());
            return false;
        }
    }

    /** How reads go: {@code ReadAsync on 2 handles}, {@code Read on 4 handles}. */
    public String readMethod() {
        return (asyncReads ? "ReadAsync" : "Read") + " on " + disks.handles.size() + " handle" + (disks.handles.size() == 1 ? "" : "s");
    }

    /** The transport mode VDDK opened the disk with. */
    public String mode() {
        return disks.mode();
    }

    @Override
    public long capacity() {
        return disks.handles.getFirst().capacity();
    }

    @Override
    public BlockConstraints blockConstraints() {
        return CONSTRAINTS;
    }

    @Override
    public CompletableFuture<List<DiskExtent>> extents(long offset, long length) {
        if (!allocationKnown) {
            return CompletableFuture.completedFuture(List.of(new DiskExtent(offset, length, DiskExtent.Kind.DATA)));
        }
        return disks.handles.getFirst().allocatedBlocks(offset, length, ALLOCATION_CHUNK)
                .thenApply(allocated -> withHoles(offset, offset + length, allocated));
    }

    /** VDDK's allocated blocks, with the gaps between them as holes, covering [from, to) exactly. */
    static List<DiskExtent> withHoles(long from, long to, List<ByteExtent> allocated) {
        List<DiskExtent> out = new ArrayList<>();
        long at = from;
        for (ByteExtent e : allocated) {
            if (e.offset() > at) {
                out.add(new DiskExtent(at, e.offset() - at, DiskExtent.Kind.HOLE));
            }
            out.add(new DiskExtent(e.offset(), e.length(), DiskExtent.Kind.DATA));
            at = e.end();
        }
        if (at < to) {
            out.add(new DiskExtent(at, to - at, DiskExtent.Kind.HOLE));
        }
        return out;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        AlignedBuffers.Buffer buffer;
        try {
            buffer = buffers.acquire(length);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        MemorySegment into = buffer.segment().asSlice(0, roundUp(length));
        List<VixDisk> handles = disks.handles;
        CompletableFuture<Void> done;
        try {
            VixDisk handle = handles.get(Math.floorMod(next.getAndIncrement(), handles.size()));
            done = asyncReads ? handle.readAsync(offset, into) : handle.read(offset, into);
        } catch (RuntimeException e) {
            buffer.close();
            return CompletableFuture.failedFuture(e);
        }
        return done.handle((ok, failure) -> {
            if (failure != null) {
                buffer.close();
                Throwable cause = failure instanceof CompletionException c ? c.getCause() : failure;
                throw new CompletionException(cause instanceof VixException v
                        ? new VddkIoException("read", offset, length, v) : cause);
            }
            return new SegmentByteBuf(buffer, length);
        });
    }

    @Override
    public CompletableFuture<List<ByteRange>> changedSince(String changeToken) {
        return changes.map(c -> c.since(changeToken, capacity())).orElseGet(() -> CompletableFuture.failedFuture(
                new UnsupportedOperationException("no changed-area source for " + uri.describe() + " (VDDK cannot tell by itself)")));
    }

    @Override
    public void close() {
        try {
            disks.close();
        } finally {
            buffers.close();
        }
    }

    private static long roundUp(int length) {
        return (length + VixDisk.SECTOR_SIZE - 1L) / VixDisk.SECTOR_SIZE * VixDisk.SECTOR_SIZE;
    }

}
