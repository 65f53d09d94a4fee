package io.blockmover.mover.pipeline;

import io.blockmover.mover.transport.BlockConstraints;
import io.blockmover.mover.transport.DiskExtent;
import io.blockmover.mover.transport.DiskSource;
import io.blockmover.nbd.units.ByteRange;

import io.netty.buffer.ByteBuf;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/** Counts what the pipeline asks a source for, independently of the pipeline's own counters. */
class CountingSource implements DiskSource {
    private final DiskSource delegate;
    final AtomicLong bytesRead = new AtomicLong();

    CountingSource(DiskSource delegate) {
        this.delegate = delegate;
    }

    @Override
    public long capacity() {
        return delegate.capacity();
    }

    @Override
    public BlockConstraints blockConstraints() {
        return delegate.blockConstraints();
    }

    @Override
    public CompletableFuture<List<DiskExtent>> extents(long offset, long length) {
        return delegate.extents(offset, length);
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length) {
        bytesRead.addAndGet(length);
        return delegate.read(offset, length);
    }

    @Override
    public CompletableFuture<List<ByteRange>> changedSince(String changeToken) {
        return delegate.changedSince(changeToken);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
