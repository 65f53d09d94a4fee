package io.blockmover.mover.export;

import io.blockmover.index.format.ChunkId;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Decoded chunks, each checked against its digest before it was put here, that clients are likely
 * to read again: a guest reads 4 KiB at a time, and without this every such read of one 128 KiB
 * chunk would read, check and decompress all of it; a disk copied twice would be hashed twice.
 * Keyed by content, so a chunk that many disks or offsets share is cached once. Bounded in bytes.
 *
 * <p>Two kinds of use, two admission rules. A chunk read in part (a guest's working set) is
 * always kept, and the least recently used chunks make room for it. A chunk read whole (a copy
 * streaming the disk) is kept only on its second whole read, and only while there is free room:
 * a copy of a disk larger than the cache would otherwise evict every chunk before its next use,
 * and a one-pass copy (a restore) would pay for filling a cache it never reads (first-touch page
 * faults of a gigabyte of fresh memory cost about a CPU-second here). Chunks read whole once are
 * remembered by an 8-byte prefix of their digest, a bounded number of them.
 *
 * <p>The bytes live off the heap in pooled direct buffers: a gigabyte of cached chunks on the heap
 * cost a copy streaming it 1.5 s of young-generation pauses, copying the arrays to the old
 * generation. Each entry is reference counted: {@link #get} hands the caller a reference, so an
 * entry evicted while a reader copies from it is freed only after that reader releases it.
 */
public final class ChunkCache implements AutoCloseable {
    /** No thread caches: requests run on virtual threads, one per request. */
    private static final PooledByteBufAllocator ALLOCATOR = new PooledByteBufAllocator(true, 0,
            PooledByteBufAllocator.defaultNumDirectArena(), 8192, 9, 0, 0, false);

    private final long capacityBytes;
    private final LinkedHashMap<ChunkId, ByteBuf> chunks = new LinkedHashMap<>(256, 0.75f, true);
    /** Digest prefixes of chunks read whole once and not cached; the oldest forgotten first. */
    private final LinkedHashMap<Long, Boolean> readOnce;
    private long bytes;
    private long hits;
    private long misses;
    private boolean closed;

    /** A cache of at most {@code capacityBytes} of decoded chunks; 0 turns it off. */
    ChunkCache(long capacityBytes) {
        if (capacityBytes < 0) {
            throw new IllegalArgumentException("cache size must not be negative: " + capacityBytes);
        }
        this.capacityBytes = capacityBytes;
        // Twice as many as the cache holds of 128 KiB chunks: a copy's second pass finds every chunk of its first that could fit.
        int remembered = (int) Math.min(1 << 22, Math.max(1024, capacityBytes / (64 << 10)));
        this.readOnce = new LinkedHashMap<>(256, 0.75f, false) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, Boolean> eldest) {
                return size() > remembered;
            }
        };
    }

    /** A buffer of {@code length} bytes for a chunk to be decoded into and then offered to {@link #putPart} or {@link #putWhole}. */
    ByteBuf allocate(int length) {
        return ALLOCATOR.directBuffer(length, length);
    }

    /** The chunk's bytes (from index 0, readable), or null; the caller releases what it gets. */
    synchronized ByteBuf get(ChunkId id) {
        ByteBuf data = chunks.get(id);
        if (data == null) {
            misses++;
            return null;
        }
        hits++;
        return data.retain();
    }

    /**
     * Records a whole read of a chunk not in the cache; true when it would be kept (its second
     * whole read, and it fits in the free room): then it is worth copying out for {@link #putWhole}.
     */
    synchronized boolean admitsWhole(ChunkId id, int length) {
        if (closed || bytes + length > capacityBytes) {
            return false;
        }
        return readOnce.put(id.prefix(), Boolean.TRUE) != null;
    }

    /** Takes over {@code data} (a chunk read in part), evicting the least recently used chunks to make room. */
    synchronized void putPart(ChunkId id, ByteBuf data) {
        if (closed || data.readableBytes() > capacityBytes || chunks.containsKey(id)) {
            data.release();
            return;
        }
        add(id, data);
        var it = chunks.entrySet().iterator();
        while (bytes > capacityBytes && it.hasNext()) {
            Map.Entry<ChunkId, ByteBuf> eldest = it.next();
            bytes -= eldest.getValue().readableBytes();
            eldest.getValue().release();
            it.remove();
        }
    }

    /** Takes over {@code data} (a chunk read whole), kept if it fits in the free room; evicts nothing. */
    synchronized void putWhole(ChunkId id, ByteBuf data) {
        if (closed || bytes + data.readableBytes() > capacityBytes || chunks.containsKey(id)) {
            data.release();
            return;
        }
        readOnce.remove(id.prefix());
        add(id, data);
    }

    private void add(ChunkId id, ByteBuf data) {
        chunks.put(id, data);
        bytes += data.readableBytes();
    }

    /** Counts for the log and tests. */
    public record Stats(long hits, long misses, long bytes, int entries) {}

    synchronized Stats stats() {
        return new Stats(hits, misses, bytes, chunks.size());
    }

    /** Frees every entry (readers still copying keep theirs until they release it). */
    @Override
    public synchronized void close() {
        closed = true;
        chunks.values().forEach(ByteBuf::release);
        chunks.clear();
        readOnce.clear();
        bytes = 0;
    }
}
