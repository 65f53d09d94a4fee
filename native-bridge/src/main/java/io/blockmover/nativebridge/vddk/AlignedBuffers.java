package io.blockmover.nativebridge.vddk;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Native I/O buffers aligned for unbuffered VDDK transports (san, hotadd read with O_DIRECT) and
 * reused: a buffer given back returns to a free list of its size, up to {@code maxIdle} buffers
 * in all; beyond that, or once the pool is closed, its memory is freed at once. Each buffer
 * lives in an arena of its own, so freeing one never waits for the others.
 */
public final class AlignedBuffers implements AutoCloseable {
    private final long alignment;
    private final int maxIdle;
    private final Map<Long, ArrayDeque<Buffer>> idle = new HashMap<>();
    private final AtomicLong live = new AtomicLong();
    private int idleCount;
    private boolean closed;

    public AlignedBuffers(long alignment, int maxIdle) {
        if (Long.bitCount(alignment) != 1 || alignment < VixDisk.SECTOR_SIZE) {
            throw new IllegalArgumentException("alignment must be a power of two >= 512: " + alignment);
        }
        this.alignment = alignment;
        this.maxIdle = maxIdle;
    }

    /** A buffer of at least {@code size} bytes (rounded up to whole sectors), aligned. */
    public Buffer acquire(long size) {
        long rounded = (size + VixDisk.SECTOR_SIZE - 1) / VixDisk.SECTOR_SIZE * VixDisk.SECTOR_SIZE;
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("buffer pool closed");
            }
            ArrayDeque<Buffer> free = idle.get(rounded);
            if (free != null && !free.isEmpty()) {
                idleCount--;
                return free.pop();
            }
        }
        Arena arena = Arena.ofShared();
        live.incrementAndGet();
        return new Buffer(arena, arena.allocate(rounded, alignment));
    }

    /** Buffers whose native memory is currently allocated (in use or idle). */
    public long allocated() {
        return live.get();
    }

    private void giveBack(Buffer b) {
        synchronized (this) {
            if (!closed && idleCount < maxIdle) {
                idle.computeIfAbsent(b.segment.byteSize(), k -> new ArrayDeque<>()).push(b);
                idleCount++;
                return;
            }
        }
        b.free();
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            idle.values().forEach(q -> q.forEach(Buffer::free));
            idle.clear();
            idleCount = 0;
        }
    }

    /** One native buffer; {@link #close()} gives it back to the pool (once). */
    public final class Buffer implements AutoCloseable {
        private final Arena arena;
        private final MemorySegment segment;

        private Buffer(Arena arena, MemorySegment segment) {
            this.arena = arena;
            this.segment = segment;
        }

        public MemorySegment segment() {
            return segment;
        }

        private void free() {
            arena.close();
            live.decrementAndGet();
        }

        @Override
        public void close() {
            giveBack(this);
        }
    }
}
