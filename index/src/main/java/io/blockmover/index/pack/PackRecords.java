package io.blockmover.index.pack;

import static io.blockmover.index.format.PackFormat.*;

import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;

import java.nio.ByteBuffer;
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

    /** A record header (with both CRCs) for {@code payload} (not moved), ready to be written. */
    public static ByteBuffer header(byte kind, int flags, int plainLength, byte[] key, ByteBuffer payload) {
        ByteBuffer b = ByteBuffer.allocate(RECORD_HEADER);
        CRC32C c = new CRC32C();
        c.update(payload.duplicate());
        b.putInt(RECORD_MAGIC).put(kind).put((byte) flags).putShort((short) 0).putInt(plainLength).putInt(payload.remaining())
                .put(key).putInt((int) c.getValue());
        b.putInt(crc(b, 0, H_HEADER_CRC));
        return b.flip();
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
