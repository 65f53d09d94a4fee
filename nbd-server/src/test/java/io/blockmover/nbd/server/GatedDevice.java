package io.blockmover.nbd.server;

import io.blockmover.nbd.testing.MemoryBlockDevice;
import io.netty.buffer.ByteBuf;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A memory device whose reads at one offset wait until the test opens the gate, and which
 * records how many reads ran at once. Lets tests prove out-of-order replies and in-flight
 * limits without timing.
 */
final class GatedDevice implements BlockDevice {
    private final MemoryBlockDevice delegate;
    private final long gatedOffset;
    private final CountDownLatch gate = new CountDownLatch(1);
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicInteger maxRunning = new AtomicInteger();
    private final AtomicInteger waitingAtGate = new AtomicInteger();

    GatedDevice(MemoryBlockDevice delegate, long gatedOffset) {
        this.delegate = delegate;
        this.gatedOffset = gatedOffset;
    }

    void open() {
        gate.countDown();
    }

    int maxConcurrentReads() {
        return maxRunning.get();
    }

    int waitingAtGate() {
        return waitingAtGate.get();
    }

    @Override
    public long size() {
        return delegate.size();
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public void read(long offset, int length, ByteBuf dst) throws IOException {
        int now = running.incrementAndGet();
        maxRunning.accumulateAndGet(now, Math::max);
        try {
            if (offset == gatedOffset) {
                waitingAtGate.incrementAndGet();
                if (!gate.await(30, TimeUnit.SECONDS)) {
                    throw new IOException("gate never opened");
                }
            }
            delegate.read(offset, length, dst);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        } finally {
            running.decrementAndGet();
        }
    }

    @Override
    public void write(long offset, ByteBuf src) {
        delegate.write(offset, src);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayPunchHole) {
        delegate.writeZeroes(offset, length, mayPunchHole);
    }

    @Override
    public void trim(long offset, long length) {
        delegate.trim(offset, length);
    }

    @Override
    public void flush() {
        delegate.flush();
    }

    @Override
    public List<Extent> extents(long offset, long length) {
        return delegate.extents(offset, length);
    }
}
