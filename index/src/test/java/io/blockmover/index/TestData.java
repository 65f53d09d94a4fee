package io.blockmover.index;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/** Deterministic chunk contents, so a test knows every byte a restore must give back. */
final class TestData {
    enum Kind { RANDOM, TEXT, ZERO }

    private static final byte[] WORDS = ("the quick brown fox jumps over the lazy dog while backups run "
            + "blocks chunks packs manifests digests restore verify prune ").getBytes(StandardCharsets.US_ASCII);

    private TestData() {
    }

    /** Fills {@code dst} (cleared, then flipped) with chunk content of {@code kind} seeded by {@code seed}. */
    static ByteBuffer fill(ByteBuffer dst, Kind kind, long seed, int length) {
        dst.clear();
        SplittableRandom r = new SplittableRandom(seed);
        switch (kind) {
            case ZERO -> {
                for (int i = 0; i < length; i++) {
                    dst.put((byte) 0);
                }
            }
            case RANDOM -> {
                int i = 0;
                for (; i + 8 <= length; i += 8) {
                    dst.putLong(r.nextLong());
                }
                for (; i < length; i++) {
                    dst.put((byte) r.nextInt());
                }
            }
            case TEXT -> {
                int i = 0;
                while (i < length) {
                    int start = r.nextInt(WORDS.length - 12);
                    int n = Math.min(length - i, 4 + r.nextInt(8));
                    dst.put(WORDS, start, n);
                    i += n;
                }
            }
        }
        return dst.flip();
    }

    static byte[] bytes(Kind kind, long seed, int length) {
        ByteBuffer b = fill(ByteBuffer.allocate(length), kind, seed, length);
        byte[] out = new byte[length];
        b.get(out);
        return out;
    }
}
