package io.blockmover.index.format;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * The 32-byte name of a chunk: SHA-256 of its plaintext, or HMAC-SHA256 under the repository's
 * MAC key when the repository is encrypted. All-zero bytes are reserved as the zero-chunk marker
 * in manifests (a real digest of 32 zero bytes is as likely as a SHA-256 preimage).
 */
public final class ChunkId {
    public static final int LENGTH = 32;

    private final byte[] bytes;

    private ChunkId(byte[] bytes) {
        this.bytes = bytes;
    }

    /** Takes ownership of {@code bytes} (no copy: one allocation per chunk on the hot path). */
    public static ChunkId wrap(byte[] bytes) {
        if (bytes.length != LENGTH) {
            throw new IllegalArgumentException("a chunk id has 32 bytes, got " + bytes.length);
        }
        return new ChunkId(bytes);
    }

    public static ChunkId copyOf(byte[] src, int offset) {
        return new ChunkId(Arrays.copyOfRange(src, offset, offset + LENGTH));
    }

    public static boolean isZeroMarker(byte[] src, int offset) {
        for (int i = 0; i < LENGTH; i++) {
            if (src[offset + i] != 0) {
                return false;
            }
        }
        return true;
    }

    /** The backing array, for writing into keys and records; callers must not modify it. */
    public byte[] bytes() {
        return bytes;
    }

    /** First 8 bytes as a long: uniformly distributed, used by GC's compact mark set. */
    public long prefix() {
        return prefix(bytes, 0);
    }

    public static long prefix(byte[] src, int offset) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (src[offset + i] & 0xFF);
        }
        return v;
    }

    public String hex() {
        return HexFormat.of().formatHex(bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ChunkId other && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        // Digests are uniformly random: four bytes are as good a hash as all 32.
        return (bytes[0] << 24) | ((bytes[1] & 0xFF) << 16) | ((bytes[2] & 0xFF) << 8) | (bytes[3] & 0xFF);
    }

    @Override
    public String toString() {
        return hex();
    }
}
