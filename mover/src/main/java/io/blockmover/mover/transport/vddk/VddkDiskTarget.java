package io.blockmover.mover.transport.vddk;

import io.blockmover.mover.transport.BlockConstraints;
import io.blockmover.mover.transport.DiskIoException;
import io.blockmover.mover.transport.DiskTarget;
import io.blockmover.mover.transport.TargetCapabilities;
import io.blockmover.mover.transport.ZeroOptions;
import io.blockmover.nativebridge.vddk.AlignedBuffers;
import io.blockmover.nativebridge.vddk.VddkUnavailableException;
import io.blockmover.nativebridge.vddk.VixDisk;
import io.blockmover.nativebridge.vddk.VixException;
import io.netty.buffer.ByteBuf;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * A restore through VDDK: the live disk of a VM (a vddk:// URI whose snapshot is {@code -}),
 * written with WriteAsync from aligned native buffers, made durable with Flush. VixDiskLib has
 * no zeroing or unmap call, so zeros are written as zero buffers and trim is a no-op.
 */
public final class VddkDiskTarget implements DiskTarget {
    private static final BlockConstraints CONSTRAINTS = new BlockConstraints(VixDisk.SECTOR_SIZE, 64 << 10, 16 << 20);
    private static final int ZERO_RUN = 1 << 20;

    private final VddkDisks disks;
    private final AlignedBuffers buffers = new AlignedBuffers(4096, 64);

    private VddkDiskTarget(VddkDisks disks) {
        this.disks = disks;
    }

    public static VddkDiskTarget open(VddkUri uri, VddkSettings settings) throws VddkUnavailableException, VixException {
        if (uri.snapshotMoref().isPresent()) {
            throw new IllegalArgumentException("a restore writes the live disk: give - as the snapshot in " + uri);
        }
        return new VddkDiskTarget(VddkDisks.open(uri, settings, false, 1));
    }

    public String mode() {
        return disks.mode();
    }

    private VixDisk disk() {
        return disks.handles.getFirst();
    }

    @Override
    public long capacity() {
        return disk().capacity();
    }

    @Override
    public BlockConstraints blockConstraints() {
        return CONSTRAINTS;
    }

    @Override
    public TargetCapabilities capabilities() {
        return new TargetCapabilities(true, false, false, false, false);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
        int length = data.readableBytes();
        AlignedBuffers.Buffer buffer;
        try {
            if (!CONSTRAINTS.aligned(offset, length)) {
                throw new IllegalArgumentException("VDDK writes whole sectors: offset " + offset + " length " + length);
            }
            buffer = buffers.acquire(length);
            MemorySegment.copy(MemorySegment.ofBuffer(data.nioBuffer()), 0, buffer.segment(), 0, length);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        } finally {
            data.release();
        }
        CompletableFuture<Void> written = send(offset, buffer, length);
        return fua ? written.thenCompose(v -> flush()) : written;
    }

    private CompletableFuture<Void> send(long offset, AlignedBuffers.Buffer buffer, int length) {
        CompletableFuture<Void> done;
        try {
            done = disk().writeAsync(offset, buffer.segment().asSlice(0, length));
        } catch (RuntimeException e) {
            buffer.close();
            return CompletableFuture.failedFuture(e);
        }
        return done.handle((ok, failure) -> {
            buffer.close();
            if (failure != null) {
                Throwable cause = failure instanceof CompletionException c ? c.getCause() : failure;
                throw new CompletionException(cause instanceof VixException v ? new VddkIoException("write", offset, length, v) : cause);
            }
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> writeZeroes(long offset, long length, ZeroOptions options) {
        if (options.fastOnly()) {
            return CompletableFuture.failedFuture(new DiskIoException("fast zero", offset, length, 95,
                    "VDDK can only write zeros as data"));
        }
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        for (long at = offset; at < offset + length; at += ZERO_RUN) {
            int n = (int) Math.min(ZERO_RUN, offset + length - at);
            AlignedBuffers.Buffer buffer = buffers.acquire(n);
            buffer.segment().asSlice(0, n).fill((byte) 0);
            parts.add(send(at, buffer, n));
        }
        CompletableFuture<Void> all = CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new));
        return options.fua() ? all.thenCompose(v -> flush()) : all;
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length) {
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return disk().flush();
    }

    @Override
    public void close() {
        try {
            disks.close();
        } finally {
            buffers.close();
        }
    }
}
