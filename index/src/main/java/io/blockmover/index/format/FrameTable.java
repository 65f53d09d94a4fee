package io.blockmover.index.format;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The table at the start of a frame record's payload (kind 4, format 3): which chunks the frame
 * holds and where each lies in the frame's plaintext. Layout (big-endian):
 * <pre>
 *   u16 count (1..{@value PackFormat#MAX_FRAME_CHUNKS}), u16 reserved 0,
 *   count × (32-byte chunk id, u32 plaintext length)
 * </pre>
 * Chunks follow each other in the plaintext in table order, so the offsets are the running sums
 * of the lengths and cannot disagree with them. The table is not compressed nor encrypted (it
 * holds only chunk ids, keyed HMACs in an encrypted repository, like every record header); the
 * record's payload CRC covers it, and in an encrypted repository it is the GCM additional data
 * of the frame's body, so a body cannot be moved under another table.
 */
public record FrameTable(List<ChunkId> ids, int[] lengths) {
    public static final int PREAMBLE = 4;
    public static final int ENTRY = ChunkId.LENGTH + 4;

    public FrameTable {
        if (ids.isEmpty() || ids.size() > PackFormat.MAX_FRAME_CHUNKS || ids.size() != lengths.length) {
            throw new IllegalArgumentException("a frame holds 1.." + PackFormat.MAX_FRAME_CHUNKS + " chunks, one length each; got "
                    + ids.size() + " ids and " + lengths.length + " lengths");
        }
        long total = 0;
        for (int l : lengths) {
            if (l <= 0) {
                throw new IllegalArgumentException("a framed chunk has a positive length, got " + l);
            }
            total += l;
        }
        if (total > PackFormat.MAX_FRAME_PLAIN) {
            throw new IllegalArgumentException("frame plaintext of " + total + " bytes exceeds " + PackFormat.MAX_FRAME_PLAIN);
        }
        ids = List.copyOf(ids);
        lengths = lengths.clone();
    }

    public int count() {
        return ids.size();
    }

    public ChunkId id(int slot) {
        return ids.get(slot);
    }

    public int length(int slot) {
        return lengths[slot];
    }

    /** Where chunk {@code slot} starts in the frame's plaintext. */
    public int offset(int slot) {
        int at = 0;
        for (int i = 0; i < slot; i++) {
            at += lengths[i];
        }
        return at;
    }

    public int plainLength() {
        return offset(lengths.length);
    }

    /** The slot holding {@code id} at plaintext offset {@code at}, or -1 when the table has no such chunk. */
    public int slotOf(ChunkId id, int at) {
        int pos = 0;
        for (int i = 0; i < lengths.length; i++) {
            if (pos == at) {
                return ids.get(i).equals(id) ? i : -1;
            }
            pos += lengths[i];
        }
        return -1;
    }

    public int encodedLength() {
        return encodedLength(ids.size());
    }

    public static int encodedLength(int count) {
        return PREAMBLE + count * ENTRY;
    }

    public ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(encodedLength());
        b.putShort((short) ids.size()).putShort((short) 0);
        for (int i = 0; i < ids.size(); i++) {
            b.put(ids.get(i).bytes()).putInt(lengths[i]);
        }
        return b.flip();
    }

    /**
     * Decodes the table at the start of {@code payload} (its remaining bytes, not moved), checking
     * it against the record header's plaintext length. Throws {@link IllegalArgumentException}
     * naming what is wrong; never anything else, whatever the bytes.
     */
    public static FrameTable decode(ByteBuffer payload, int framePlainLength) {
        int base = payload.position();
        if (payload.remaining() < PREAMBLE) {
            throw new IllegalArgumentException("frame table truncated");
        }
        int count = payload.getShort(base) & 0xFFFF;
        if (count < 1 || count > PackFormat.MAX_FRAME_CHUNKS) {
            throw new IllegalArgumentException("frame names " + count + " chunks (1.." + PackFormat.MAX_FRAME_CHUNKS + ")");
        }
        if (payload.getShort(base + 2) != 0) {
            throw new IllegalArgumentException("frame table reserved bytes are not zero");
        }
        if (payload.remaining() < encodedLength(count)) {
            throw new IllegalArgumentException("frame table of " + count + " chunks truncated");
        }
        List<ChunkId> ids = new ArrayList<>(count);
        int[] lengths = new int[count];
        long total = 0;
        for (int i = 0; i < count; i++) {
            int at = base + PREAMBLE + i * ENTRY;
            byte[] id = new byte[ChunkId.LENGTH];
            payload.get(at, id);
            ids.add(ChunkId.wrap(id));
            lengths[i] = payload.getInt(at + ChunkId.LENGTH);
            if (lengths[i] <= 0) {
                throw new IllegalArgumentException("frame table gives chunk " + i + " a length of " + lengths[i]);
            }
            total += lengths[i];
        }
        if (total != framePlainLength) {
            throw new IllegalArgumentException("frame table adds up to " + total + " bytes, the record says " + framePlainLength);
        }
        return new FrameTable(ids, lengths);
    }
}
