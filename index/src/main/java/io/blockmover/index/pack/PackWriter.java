package io.blockmover.index.pack;

import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.format.FrameTable;
import io.blockmover.index.format.PackFormat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Appends chunk records to one pack and seals it (footer, fsync). Not thread-safe: the owner
 * serialises appends. Remembers what it holds so the owner can publish the locations once the
 * pack is durable, never before.
 */
public final class PackWriter {
    private final long packId;
    private final PackStore store;
    private final PackStore.Output out;
    private final List<Entry> entries = new ArrayList<>();
    private final ByteBuffer small = ByteBuffer.allocate(Math.max(PackFormat.FILE_HEADER, PackFormat.FOOTER));
    private boolean sealed;

    public record Entry(ChunkId id, ChunkLocation location) {
    }

    private PackWriter(long packId, PackStore store, PackStore.Output out) {
        this.packId = packId;
        this.store = store;
        this.out = out;
    }

    public static PackWriter create(PackStore store, long packId) throws IOException {
        PackWriter w = new PackWriter(packId, store, store.create(packId));
        w.small.clear();
        PackFormat.writeFileHeader(w.small, packId);
        w.out.append(w.small.flip());
        return w;
    }

    public long packId() {
        return packId;
    }

    public long size() {
        return out.size();
    }

    public int count() {
        return entries.size();
    }

    /** Appends a chunk record framed by {@link PackRecords} (or a record copied whole). */
    public ChunkLocation append(ChunkId id, ByteBuffer[] record) throws IOException {
        ByteBuffer header = record[0];
        int p = header.position();
        int flags = header.get(p + PackFormat.H_FLAGS) & 0xFF;
        int plain = header.getInt(p + PackFormat.H_PLAIN);
        int payload = header.getInt(p + PackFormat.H_PAYLOAD);
        long at = out.append(record);
        ChunkLocation loc = new ChunkLocation(packId, at, payload, plain, flags);
        entries.add(new Entry(id, loc));
        return loc;
    }

    /**
     * Appends a frame record framed by {@link PackRecords#frame} (or copied whole, as header and
     * payload) holding the chunks of {@code table}; each gets a location inside the frame.
     */
    public List<ChunkLocation> appendFrame(FrameTable table, ByteBuffer[] record) throws IOException {
        ByteBuffer header = record[0];
        int p = header.position();
        int flags = header.get(p + PackFormat.H_FLAGS) & 0xFF;
        int plain = header.getInt(p + PackFormat.H_PLAIN);
        int payload = header.getInt(p + PackFormat.H_PAYLOAD);
        long at = out.append(record);
        List<ChunkLocation> locations = new ArrayList<>(table.count());
        for (int i = 0, offset = 0; i < table.count(); offset += table.length(i), i++) {
            ChunkLocation loc = new ChunkLocation(packId, at, payload, table.length(i), flags, offset, plain);
            entries.add(new Entry(table.id(i), loc));
            locations.add(loc);
        }
        return locations;
    }

    /** Appends a non-chunk record (manifest segment, backup record) with a 32-byte key. */
    public void appendMeta(byte kind, byte[] key, ByteBuffer payload) throws IOException {
        out.append(PackRecords.header(kind, 0, payload.remaining(), key, payload), payload.duplicate());
    }

    /** Writes the footer and makes the pack durable. Returns what it holds. */
    public List<Entry> seal() throws IOException {
        if (!sealed) {
            small.clear();
            PackFormat.writeFooter(small, entries.size());
            out.append(small.flip());
            out.sync();
            out.close();
            sealed = true;
        }
        return entries;
    }

    /**
     * Gives up on a pack whose locations were never published: no index entry and no other
     * writer can refer to it, so it is deleted at once (freeing space matters most when the
     * failure was a full disk). If even that fails, gc removes it later.
     */
    public void abandon() {
        try {
            out.close();
        } catch (IOException ignored) {
            // an abandoned pack's bytes do not matter (a failed background sync, say): only that it goes
        }
        try {
            store.delete(packId);
        } catch (IOException ignored) {
            // nothing refers to this pack; gc removes it
        }
    }
}
