package io.blockmover.index.pack;

import static io.blockmover.index.format.PackFormat.*;

import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.FrameTable;

import io.blockmover.index.format.ChunkLocation;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.zip.CRC32C;

/**
 * The framing of pack records (layout in {@link io.blockmover.index.format.PackFormat} and
 * FORMAT.md): a header with both CRCs in front of a payload on the way in, and every check of the
 * header and payload bytes on the way out, before anything above trusts a length or a payload.
 * What a payload means (compression, encryption, digest) is the chunk layer's business.
 */
public final class PackRecords {
    private PackRecords() {
    }

    /** A chunk's payload as stored, with what its record header says of it. */
    public record ChunkPayload(int flags, int plainLength, ByteBuffer payload) {
    }

    /** The length of a record holding {@code payloadLength} bytes. */
    public static int recordLength(int payloadLength) {
        return RECORD_HEADER + payloadLength;
    }

    /**
     * A chunk record as header and payload buffers for one gathering write; the payload is
     * {@code p}'s own buffer (not copied, not moved).
     */
    public static ByteBuffer[] frameChunk(ChunkId id, ChunkPayload p) {
        return new ByteBuffer[] {header(KIND_CHUNK, p.flags(), p.plainLength(), id.bytes(), p.payload()), p.payload()};
    }

    /** A record header (with both CRCs) for {@code payload} (its remaining bytes, in order; not moved), ready to be written. */
    public static ByteBuffer header(byte kind, int flags, int plainLength, byte[] key, ByteBuffer... payload) {
        ByteBuffer b = ByteBuffer.allocate(RECORD_HEADER);
        CRC32C c = new CRC32C();
        int length = 0;
        for (ByteBuffer part : payload) {
            c.update(part.duplicate());
            length += part.remaining();
        }
        b.putInt(RECORD_MAGIC).put(kind).put((byte) flags).putShort((short) 0).putInt(plainLength).putInt(length)
                .put(key).putInt((int) c.getValue());
        b.putInt(crc(b, 0, H_HEADER_CRC));
        return b.flip();
    }

    /**
     * A frame record (kind 4) as header, table and body buffers for one gathering write; the body
     * is {@code body}'s own buffer (not copied, not moved). The digest field names the first chunk.
     */
    public static ByteBuffer[] frame(FrameTable table, int flags, ByteBuffer body) {
        ByteBuffer t = table.encode();
        return new ByteBuffer[] {header(KIND_FRAME, flags, table.plainLength(), table.id(0).bytes(), t, body), t, body};
    }

    /** A frame's stored payload, split: its table, and its body as stored (compressed, encrypted). */
    public record FramePayload(int flags, FrameTable table, ByteBuffer tableBytes, ByteBuffer body) {
    }

    /**
     * Checks the framing of a frame record ({@code record}'s remaining bytes, not moved) read from
     * where the index says chunk {@code expected} lives at plaintext offset {@code frameOffset}:
     * header CRC, kind, lengths (a frame over {@code maxFramePlain} is refused), the payload CRC,
     * the table, and that the table holds that chunk at that offset. Every failure is that
     * chunk's {@link ChunkDamagedException}.
     */
    public static FramePayload openFrame(ByteBuffer record, ChunkId expected, int frameOffset, int maxFramePlain) {
        String name = expected.hex();
        FramePayload f = openFrame(record, maxFramePlain, name);
        if (f.table().slotOf(expected, frameOffset) < 0) {
            throw new ChunkDamagedException(name, "location points to a frame without this chunk at offset " + frameOffset);
        }
        return f;
    }

    /**
     * Reads and checks the frame record that {@code loc} (a framed location of {@code id}) points
     * to, into {@code buf} (direct, at least the record long); a missing or short pack is that
     * chunk's damage. {@code inOrder}: the caller goes through a disk in order (a restore), so a
     * store may fetch ahead.
     */
    public static FramePayload readFrame(PackStore packs, ChunkLocation loc, ChunkId id, ByteBuffer buf, boolean inOrder)
            throws IOException {
        String name = id.hex();
        if (loc.recordLength() > buf.capacity() || loc.payloadLength() < 0) {
            throw new ChunkDamagedException(name, "index entry has an impossible length");
        }
        buf.clear().limit(loc.recordLength());
        int n;
        try {
            n = inOrder ? packs.readInOrder(loc.packId(), loc.offset(), buf) : packs.read(loc.packId(), loc.offset(), buf);
        } catch (NoSuchFileException e) {
            throw new ChunkDamagedException(name, "pack " + Long.toHexString(loc.packId()) + " is missing");
        }
        if (n < loc.recordLength()) {
            throw new ChunkDamagedException(name, "pack " + Long.toHexString(loc.packId()) + " is truncated");
        }
        FramePayload f = openFrame(buf.flip(), id, loc.frameOffset(), MAX_FRAME_PLAIN);
        if (f.table().plainLength() != loc.framePlainLength() || f.table().length(f.table().slotOf(id, loc.frameOffset())) != loc.plainLength()) {
            throw new ChunkDamagedException(name, "index entry disagrees with its frame's table");
        }
        return f;
    }

    /** {@link #openFrame(ByteBuffer, ChunkId, int, int)} without the chunk check; failures name {@code name}. */
    public static FramePayload openFrame(ByteBuffer record, int maxFramePlain, String name) {
        int base = record.position();
        if (record.remaining() < RECORD_HEADER) {
            throw new ChunkDamagedException(name, "record truncated");
        }
        if (record.getInt(base) != RECORD_MAGIC || record.getInt(base + H_HEADER_CRC) != crc(record, base, H_HEADER_CRC)) {
            throw new ChunkDamagedException(name, "record header checksum mismatch");
        }
        if (record.get(base + H_KIND) != KIND_FRAME) {
            throw new ChunkDamagedException(name, "record is not a frame");
        }
        int flags = record.get(base + H_FLAGS);
        int plainLength = record.getInt(base + H_PLAIN);
        int payloadLength = record.getInt(base + H_PAYLOAD);
        if (plainLength > maxFramePlain || plainLength <= 0 || payloadLength < 0 || record.remaining() < RECORD_HEADER + payloadLength) {
            throw new ChunkDamagedException(name, "record truncated or lengths out of range");
        }
        ByteBuffer payload = record.slice(base + RECORD_HEADER, payloadLength);
        if (crc(payload, 0, payloadLength) != record.getInt(base + H_PAYLOAD_CRC)) {
            throw new ChunkDamagedException(name, "payload checksum mismatch");
        }
        FrameTable table;
        try {
            table = FrameTable.decode(payload, plainLength);
        } catch (IllegalArgumentException e) {
            throw new ChunkDamagedException(name, e.getMessage());
        }
        int t = table.encodedLength();
        return new FramePayload(flags, table, payload.slice(0, t), payload.slice(t, payloadLength - t));
    }

    /** A whole record read back ({@code record}'s remaining bytes) as header and payload, for a copy into another pack. */
    public static ByteBuffer[] split(ByteBuffer record) {
        int base = record.position();
        return new ByteBuffer[] {record.slice(base, RECORD_HEADER), record.slice(base + RECORD_HEADER, record.remaining() - RECORD_HEADER)};
    }

    /**
     * Checks the framing of a chunk record ({@code record}'s remaining bytes, not moved) read
     * from where the index says {@code expected} lives: header CRC, kind, the digest it carries,
     * lengths (a plaintext over {@code maxPlainLength} is refused) and the payload CRC. Returns a
     * view of its payload.
     */
    public static ChunkPayload openChunk(ByteBuffer record, ChunkId expected, int maxPlainLength) {
        String name = expected.hex();
        int base = record.position();
        if (record.remaining() < RECORD_HEADER) {
            throw new ChunkDamagedException(name, "record truncated");
        }
        if (record.getInt(base) != RECORD_MAGIC || record.getInt(base + H_HEADER_CRC) != crc(record, base, H_HEADER_CRC)) {
            throw new ChunkDamagedException(name, "record header checksum mismatch");
        }
        if (record.get(base + H_KIND) != KIND_CHUNK) {
            throw new ChunkDamagedException(name, "record is not a chunk");
        }
        if (record.slice(base + H_DIGEST, ChunkId.LENGTH).mismatch(ByteBuffer.wrap(expected.bytes())) >= 0) {
            throw new ChunkDamagedException(name, "location points to a record of another chunk");
        }
        int flags = record.get(base + H_FLAGS);
        int plainLength = record.getInt(base + H_PLAIN);
        int payloadLength = record.getInt(base + H_PAYLOAD);
        if (plainLength > maxPlainLength || plainLength < 0 || payloadLength < 0 || record.remaining() < RECORD_HEADER + payloadLength) {
            throw new ChunkDamagedException(name, "record truncated or lengths out of range");
        }
        ByteBuffer payload = record.slice(base + RECORD_HEADER, payloadLength);
        if (crc(payload, 0, payloadLength) != record.getInt(base + H_PAYLOAD_CRC)) {
            throw new ChunkDamagedException(name, "payload checksum mismatch");
        }
        return new ChunkPayload(flags, plainLength, payload);
    }
}
