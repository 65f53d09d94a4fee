package io.blockmover.index.format;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * Byte layout of pack files (big-endian; see index/FORMAT.md). A pack is a file header, then
 * self-describing chunk records, then (once sealed) a footer. Every header carries its own
 * CRC32C so a scanner can trust lengths before it trusts payloads.
 */
public final class PackFormat {
    public static final long FILE_MAGIC = 0x424D5041434B0001L; // "BMPACK" 0x00 0x01
    public static final int FILE_VERSION = 1;
    public static final int FILE_HEADER = 32;

    public static final int RECORD_MAGIC = 0x424D4348; // "BMCH"
    public static final byte KIND_CHUNK = 1;
    /** A manifest segment; the digest field holds backup id (8), disk index (2), segment (4), zeros. */
    public static final byte KIND_MANIFEST = 2;
    /** A committed backup's catalog record; the digest field holds the backup id (8), zeros. */
    public static final byte KIND_BACKUP = 3;
    /**
     * Several chunks compressed together (format 3): the payload is a {@link FrameTable} followed
     * by the frame's body; the digest field holds the first chunk's id, the plaintext length is
     * the frame's.
     */
    public static final byte KIND_FRAME = 4;
    /** At most this many chunks in one frame (64 KiB chunks in 4 MiB frames). */
    public static final int MAX_FRAME_CHUNKS = 64;
    /** The largest frame plaintext: a frame is at most 4 MiB, like the largest chunk. */
    public static final int MAX_FRAME_PLAIN = 4 << 20;
    public static final int RECORD_HEADER = 56;
    public static final int FLAG_ZSTD = 1;
    public static final int FLAG_AES_GCM = 2;
    /** The payload is an LZ4 block (before encryption); never together with {@link #FLAG_ZSTD}. */
    public static final int FLAG_LZ4 = 4;
    /**
     * The chunk is stored as a recipe (format 3, sub-chunk dedup): the payload is the recipe's source
     * ids in the clear, then the recipe body as a codec payload (see FORMAT.md and {@code chunk.Recipe}).
     */
    public static final int FLAG_RECIPE = 8;

    public static final int FOOTER_MAGIC = 0x424D5345; // "BMSE"
    public static final int FOOTER = 16;

    /** Off-sets inside a record header. */
    public static final int H_KIND = 4;
    public static final int H_FLAGS = 5;
    public static final int H_PLAIN = 8;
    public static final int H_PAYLOAD = 12;
    public static final int H_DIGEST = 16;
    public static final int H_PAYLOAD_CRC = 48;
    public static final int H_HEADER_CRC = 52;

    /**
     * Payloads larger than this are refused when scanning: a pack never holds a chunk or frame
     * over 4 MiB plus framing (a frame's table of at most 64 entries and GCM's nonce and tag).
     */
    public static final int MAX_PAYLOAD = (4 << 20) + 4096;

    private PackFormat() {
    }

    public static void writeFileHeader(ByteBuffer b, long packId) {
        int start = b.position();
        b.putLong(FILE_MAGIC).putInt(FILE_VERSION).putInt(0).putLong(packId);
        b.putInt(crc(b, start, 24)).putInt(0);
    }

    /** Returns the pack id recorded in the header, or throws if the header is not a valid v1 header. */
    public static long readFileHeader(ByteBuffer b) {
        int start = b.position();
        if (b.remaining() < FILE_HEADER || b.getLong(start) != FILE_MAGIC) {
            throw new IllegalArgumentException("not a blockmover pack (bad magic)");
        }
        if (b.getInt(start + 8) != FILE_VERSION) {
            throw new IllegalArgumentException("pack format version " + b.getInt(start + 8) + " is not supported");
        }
        if (b.getInt(start + 24) != crc(b, start, 24)) {
            throw new IllegalArgumentException("pack header checksum mismatch");
        }
        return b.getLong(start + 16);
    }

    public static void writeFooter(ByteBuffer b, int records) {
        int start = b.position();
        b.putInt(FOOTER_MAGIC).putInt(records).putInt(0);
        b.putInt(crc(b, start, 12));
    }

    /** CRC32C of {@code len} bytes at absolute {@code from}, without moving the buffer's position. */
    public static int crc(ByteBuffer b, int from, int len) {
        CRC32C c = new CRC32C();
        c.update(b.slice(from, len));
        return (int) c.getValue();
    }
}
