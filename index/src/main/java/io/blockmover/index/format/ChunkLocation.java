package io.blockmover.index.format;

import java.nio.ByteBuffer;

/**
 * Where a chunk's bytes live: pack, byte offset of the record header, payload and plaintext
 * lengths and the record's flags. The value of the chunks column family: 25 bytes for a chunk
 * stored in a record of its own, 33 for a chunk inside a frame record (format 3), which adds the
 * chunk's offset inside the frame's plaintext and the frame's whole plaintext length.
 *
 * @param plainLength      the chunk's plaintext length (not the frame's)
 * @param frameOffset      where the chunk starts inside the frame's plaintext; -1 when not framed
 * @param framePlainLength the frame's whole plaintext length; -1 when not framed
 */
public record ChunkLocation(long packId, long offset, int payloadLength, int plainLength, int flags, int frameOffset,
                            int framePlainLength) {
    public static final int ENCODED = 25;
    public static final int ENCODED_FRAMED = 33;

    /** A chunk in a record of its own. */
    public ChunkLocation(long packId, long offset, int payloadLength, int plainLength, int flags) {
        this(packId, offset, payloadLength, plainLength, flags, -1, -1);
    }

    public boolean framed() {
        return framePlainLength >= 0;
    }

    public int recordLength() {
        return PackFormat.RECORD_HEADER + payloadLength;
    }

    /**
     * This chunk's share of its record's bytes: all of them for a chunk of its own, the
     * plaintext-proportional part of a frame (so the shares of a frame's chunks add up to the
     * frame, and a partly dead frame counts as partly dead when gc weighs its pack).
     */
    public long recordShare() {
        if (!framed() || framePlainLength == 0) {
            return recordLength();
        }
        return (long) recordLength() * plainLength / framePlainLength;
    }

    /** True when {@code length} bytes can be an encoded location (25 or 33): anything else is damage. */
    public static boolean isEncodedLength(int length) {
        return length == ENCODED || length == ENCODED_FRAMED;
    }

    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(framed() ? ENCODED_FRAMED : ENCODED);
        b.putLong(packId).putLong(offset).putInt(payloadLength).putInt(plainLength).put((byte) flags);
        if (framed()) {
            b.putInt(frameOffset).putInt(framePlainLength);
        }
        return b.array();
    }

    public static ChunkLocation decode(byte[] v, int len) {
        if (!isEncodedLength(len)) {
            throw new IllegalArgumentException("chunk location of " + len + " bytes, expected " + ENCODED + " or " + ENCODED_FRAMED);
        }
        ByteBuffer b = ByteBuffer.wrap(v, 0, len);
        long pack = b.getLong();
        long offset = b.getLong();
        int payload = b.getInt();
        int plain = b.getInt();
        int flags = b.get() & 0xFF;
        if (len == ENCODED) {
            return new ChunkLocation(pack, offset, payload, plain, flags);
        }
        int frameOffset = b.getInt();
        int framePlain = b.getInt();
        if (frameOffset < 0 || framePlain < 0 || plain < 0 || (long) frameOffset + plain > framePlain) {
            throw new IllegalArgumentException("framed chunk location out of range: " + frameOffset + "+" + plain + " of " + framePlain);
        }
        return new ChunkLocation(pack, offset, payload, plain, flags, frameOffset, framePlain);
    }
}
