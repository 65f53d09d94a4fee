package io.blockmover.index.chunk;

import java.util.Locale;

/**
 * The repository's codec, named in its config ({@code compression} and {@code compressionLevel}).
 * Every record also names the codec its payload was compressed with (a flag of its header), so a
 * reader needs no setting, and one repository may hold records of several codecs.
 * <ul>
 *   <li>{@code zstd:N}: zstd at level N (1..22), in one frame per chunk.</li>
 *   <li>{@code lz4}: LZ4's block format, about 3-4x zstd-1's speed for a larger repository.</li>
 *   <li>{@code auto:N}: per chunk, LZ4 while every core is busy storing chunks (the backup is
 *       compression-bound, so the faster codec is the faster backup) and zstd at level N while
 *       cores are idle (the backup waits on its source or its disk, so the better ratio is free).</li>
 * </ul>
 */
public record Compression(String name, int level) {
    public static final String ZSTD = "zstd";
    public static final String LZ4 = "lz4";
    public static final String AUTO = "auto";

    public Compression {
        switch (name) {
            case ZSTD, AUTO -> {
                if (level < 1 || level > 22) {
                    throw new IllegalArgumentException("zstd level must be 1..22, got " + level);
                }
            }
            case LZ4 -> {
                if (level != 0) {
                    throw new IllegalArgumentException("lz4 takes no level, got " + level);
                }
            }
            default -> throw new IllegalArgumentException("unknown compression '" + name + "' (supported: zstd:N, lz4, auto:N)");
        }
    }

    public static Compression zstd(int level) {
        return new Compression(ZSTD, level);
    }

    public static Compression lz4() {
        return new Compression(LZ4, 0);
    }

    public static Compression auto(int zstdLevel) {
        return new Compression(AUTO, zstdLevel);
    }

    /** Parses {@code zstd}, {@code zstd:N}, {@code lz4}, {@code auto} or {@code auto:N} (level 1 when not given). */
    public static Compression parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        int colon = t.indexOf(':');
        String name = colon < 0 ? t : t.substring(0, colon);
        int level;
        try {
            level = colon < 0 ? (LZ4.equals(name) ? 0 : 1) : Integer.parseInt(t.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("compression level of '" + text + "' is not a number");
        }
        return new Compression(name, level);
    }

    /** True when chunks may be compressed with zstd (alone, or as auto's better codec). */
    public boolean usesZstd() {
        return !LZ4.equals(name);
    }

    /** True when chunks may be compressed with LZ4 (alone, or as auto's faster codec). */
    public boolean usesLz4() {
        return !ZSTD.equals(name);
    }

    @Override
    public String toString() {
        return LZ4.equals(name) ? LZ4 : name + ":" + level;
    }
}
