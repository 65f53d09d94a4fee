package io.blockmover.mover.export;

import io.blockmover.index.format.ChunkId;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Decoded chunks a booting VM is likely to read again: a guest reads 4 KiB at a time, and without
 * this every such read of one 128 KiB chunk would read, check and decompress all of it. Keyed by
 * content, so a chunk that many disks or offsets share is cached once. Bounded in bytes; the least
 * recently used chunk goes first. Entries are never reused in place, so a reader copying from one
 * while it is evicted still sees its bytes.
 */
public final class ChunkCache {
    private final long capacityBytes;
    private final LinkedHashMap<ChunkId, byte[]> chunks = new LinkedHashMap<>(256, 0.75f, true);
    private long bytes;
    private long hits;
    private long misses;

    /** A cache of at most {@code capacityBytes} of decoded chunks; 0 turns it off. */
    ChunkCache(long capacityBytes) {
        if (capacityBytes < 0) {
            throw new IllegalArgumentException("cache size must not be negative: " + capacityBytes);
        }
        this.capacityBytes = capacityBytes;
    }

    synchronized byte[] get(ChunkId id) {
        byte[] data = chunks.get(id);
        if (data == null) {
            misses++;
        } else {
            hits++;
        }
        return data;
    }

    synchronized void put(ChunkId id, byte[] data) {
        if (data.length > capacityBytes || chunks.containsKey(id)) {
            return;
        }
        chunks.put(id, data);
        bytes += data.length;
        var it = chunks.entrySet().iterator();
        while (bytes > capacityBytes && it.hasNext()) {
            Map.Entry<ChunkId, byte[]> eldest = it.next();
            bytes -= eldest.getValue().length;
            it.remove();
        }
    }

    /** Counts for the log and tests. */
    public record Stats(long hits, long misses, long bytes, int entries) {}

    synchronized Stats stats() {
        return new Stats(hits, misses, bytes, chunks.size());
    }
}
