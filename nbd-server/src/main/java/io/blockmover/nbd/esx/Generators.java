package io.blockmover.nbd.esx;

import io.netty.buffer.ByteBuf;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Stateless, random-access content generators. The long at index {@code i} of a grain is a pure
 * function of the grain's seed and {@code i}, so any byte range of any grain is computed directly
 * into the destination without generating what precedes it and without allocating. Longs are
 * laid out little-endian.
 *
 * <p>Random longs are a word of a fixed 1 MiB pool of SplitMix64 output, picked from a window
 * the grain's seed places in the pool, XORed with the seed's Weyl sequence ({@code seed + (i+1)
 * * GOLDEN}): one load, add and XOR per 8 bytes instead of SplitMix64's two multiplies and three
 * shifts, so the emulated host serves random data at memory speed. Windows of two grains may
 * overlap in the pool, but their Weyl terms differ in every word, so no two grains share a byte
 * run: the data stays incompressible and never deduplicates.
 */
final class Generators {
    static final long GOLDEN = 0x9E3779B97F4A7C15L;

    /**
     * Writes a little-endian long into any ByteBuffer whatever its byte order: about twice as fast
     * as {@code ByteBuf.setLongLE} per long, and the buffer's shared internal view is not altered.
     */
    private static final VarHandle LONG_LE = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private static final int POOL_BITS = 17;
    private static final int POOL_MASK = (1 << POOL_BITS) - 1;
    /** 2^17 longs (1 MiB) of SplitMix64 output from a fixed seed; see the class comment. */
    private static final long[] POOL = buildPool();

    private static final int TOKEN_BITS = 12;
    /**
     * 4096 eight-byte slices of a pseudo-English word stream built once from a fixed seed. Text
     * grains are sequences of these slices: letters and spaces (Huffman-friendly) and 12 bits of
     * entropy per 8 bytes give zstd a ratio of about 3.
     */
    private static final long[] TOKENS = buildTokens();

    private Generators() {}

    /** SplitMix64's finalizer: a bijective 64-bit mix with full avalanche. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Derives an independent seed from a parent seed and two coordinates. */
    static long derive(long seed, long a, long b) {
        return mix(mix(mix(seed + GOLDEN) + a * GOLDEN) ^ (b * 0xD1B54A32D192ED03L + 0x632BE59BD9B4E019L));
    }

    static long randomLong(long grainSeed, long index) {
        return POOL[(int) (poolBase(grainSeed) + index) & POOL_MASK] ^ (grainSeed + (index + 1) * GOLDEN);
    }

    static long textLong(long grainSeed, long index) {
        return TOKENS[(int) (randomLong(grainSeed, index) >>> (64 - TOKEN_BITS))];
    }

    /** Where a grain's window starts in the pool: the seed's top bits, independent of its Weyl term's low bits. */
    private static int poolBase(long grainSeed) {
        return (int) (grainSeed >>> (64 - POOL_BITS));
    }

    /** Appends bytes {@code [from, to)} of the random grain with this seed to {@code dst}. */
    static void appendRandom(long grainSeed, int from, int to, ByteBuf dst) {
        int w = dst.writerIndex();
        dst.ensureWritable(to - from);
        int p = from;
        while (p < to && (p & 7) != 0) {
            dst.setByte(w++, (int) (randomLong(grainSeed, p >>> 3) >>> ((p & 7) << 3)));
            p++;
        }
        int end8 = to & ~7;
        long x = grainSeed + ((long) (p >>> 3) + 1) * GOLDEN;
        int k = poolBase(grainSeed) + (p >>> 3);
        ByteBuffer window = window(dst, w, end8 - p);
        if (window != null) {
            for (int at = window.position(); p < end8; p += 8, w += 8, at += 8, x += GOLDEN, k++) {
                LONG_LE.set(window, at, POOL[k & POOL_MASK] ^ x);
            }
        } else {
            for (; p < end8; p += 8, w += 8, x += GOLDEN, k++) {
                dst.setLongLE(w, POOL[k & POOL_MASK] ^ x);
            }
        }
        for (; p < to; p++) {
            dst.setByte(w++, (int) (randomLong(grainSeed, p >>> 3) >>> ((p & 7) << 3)));
        }
        dst.writerIndex(w);
    }

    /** Appends bytes {@code [from, to)} of the text grain with this seed to {@code dst}. */
    static void appendText(long grainSeed, int from, int to, ByteBuf dst) {
        int w = dst.writerIndex();
        dst.ensureWritable(to - from);
        int p = from;
        while (p < to && (p & 7) != 0) {
            dst.setByte(w++, (int) (textLong(grainSeed, p >>> 3) >>> ((p & 7) << 3)));
            p++;
        }
        int end8 = to & ~7;
        long x = grainSeed + ((long) (p >>> 3) + 1) * GOLDEN;
        int k = poolBase(grainSeed) + (p >>> 3);
        ByteBuffer window = window(dst, w, end8 - p);
        if (window != null) {
            for (int at = window.position(); p < end8; p += 8, w += 8, at += 8, x += GOLDEN, k++) {
                LONG_LE.set(window, at, TOKENS[(int) ((POOL[k & POOL_MASK] ^ x) >>> (64 - TOKEN_BITS))]);
            }
        } else {
            for (; p < end8; p += 8, w += 8, x += GOLDEN, k++) {
                dst.setLongLE(w, TOKENS[(int) ((POOL[k & POOL_MASK] ^ x) >>> (64 - TOKEN_BITS))]);
            }
        }
        for (; p < to; p++) {
            dst.setByte(w++, (int) (textLong(grainSeed, p >>> 3) >>> ((p & 7) << 3)));
        }
        dst.writerIndex(w);
    }

    /** The buffer's own NIO view of {@code [index, index+length)} (no allocation), or null if it has none. */
    private static ByteBuffer window(ByteBuf dst, int index, int length) {
        if (length <= 0 || dst.nioBufferCount() != 1) {
            return null;
        }
        return dst.internalNioBuffer(index, length);
    }

    static void appendZeros(int length, ByteBuf dst) {
        dst.writeZero(length);
    }

    private static long[] buildPool() {
        long[] pool = new long[1 << POOL_BITS];
        long state = 0x9001_5EEDL;
        for (int i = 0; i < pool.length; i++) {
            pool[i] = mix(state += GOLDEN);
        }
        return pool;
    }

    private static long[] buildTokens() {
        String[] onsets = {"b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w",
                "st", "th", "ch", "pr", "tr", ""};
        String[] vowels = {"a", "e", "i", "o", "u", "ea", "ou", "io"};
        String[] codas = {"", "", "n", "r", "s", "t", "l", "nd", "ng", "ck"};
        String[] punctuation = {" ", " ", " ", " ", " ", " ", ", ", ". ", "\n"};
        int bytesNeeded = (1 << TOKEN_BITS) * 8;
        StringBuilder text = new StringBuilder(bytesNeeded + 32);
        long state = 0x5EED_7E47L;
        while (text.length() < bytesNeeded) {
            int syllables = 1 + (int) Long.remainderUnsigned(mix(state += GOLDEN), 3);
            for (int s = 0; s < syllables; s++) {
                long r = mix(state += GOLDEN);
                text.append(onsets[(int) Long.remainderUnsigned(r, onsets.length)]);
                text.append(vowels[(int) Long.remainderUnsigned(r >>> 16, vowels.length)]);
                text.append(codas[(int) Long.remainderUnsigned(r >>> 32, codas.length)]);
            }
            text.append(punctuation[(int) Long.remainderUnsigned(mix(state += GOLDEN), punctuation.length)]);
        }
        long[] tokens = new long[1 << TOKEN_BITS];
        for (int t = 0; t < tokens.length; t++) {
            long v = 0;
            for (int b = 0; b < 8; b++) {
                v |= (long) (text.charAt(t * 8 + b) & 0xFF) << (b << 3);
            }
            tokens[t] = v;
        }
        return tokens;
    }
}
