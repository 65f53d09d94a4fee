package io.blockmover.index.chunk;

/** Compression named in the repository config. Only zstd today; the name leaves room for more. */
public record Compression(String name, int level) {
    public static final String ZSTD = "zstd";

    public Compression {
        if (!ZSTD.equals(name)) {
            throw new IllegalArgumentException("unknown compression '" + name + "' (supported: zstd)");
        }
        if (level < 1 || level > 22) {
            throw new IllegalArgumentException("zstd level must be 1..22, got " + level);
        }
    }

    public static Compression zstd(int level) {
        return new Compression(ZSTD, level);
    }
}
