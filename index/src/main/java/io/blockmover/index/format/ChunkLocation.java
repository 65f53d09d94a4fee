package io.blockmover.index.format;

import java.nio.ByteBuffer;

/**
 * Where a chunk's record lives: pack, byte offset of the record header, payload and plaintext
 * lengths and flags. The value of the chunks column family (25 bytes).
 */
public record ChunkLocation(long packId, long offset, int payloadLength, int plainLength, int flags) {
    public static final int ENCODED = 25;

    public int recordLength() {
        return PackFormat.RECORD_HEADER + payloadLength;
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(ENCODED);
        b.putLong(packId).putLong(offset).putInt(payloadLength).putInt(plainLength).put((byte) flags);
        return b.array();
    }

    public static ChunkLocation decode(byte[] v, int len) {
        if (len != ENCODED) {
            throw new IllegalArgumentException("chunk location of " + len + " bytes, expected " + ENCODED);
        }
        ByteBuffer b = ByteBuffer.wrap(v, 0, len);
        return new ChunkLocation(b.getLong(), b.getLong(), b.getInt(), b.getInt(), b.get() & 0xFF);
    }
}
