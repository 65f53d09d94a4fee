package io.blockmover.index.repo;

import io.blockmover.index.chunk.Compression;
import io.blockmover.index.chunk.KeyWrap;

/**
 * Choices made once, at {@code init}. Defaults: 128 KiB chunks (see docs/chunk-store.md for the
 * measurement), {@link #DEFAULT_COMPRESSION}, 64 MiB packs, no encryption.
 */
public record InitOptions(int chunkSize, Compression compression, long packTargetSize, char[] passphrase, int kdfIterations) {
    public static final int DEFAULT_CHUNK_SIZE = 128 << 10;
    public static final long DEFAULT_PACK_SIZE = 64L << 20;
    public static final Compression DEFAULT_COMPRESSION = Compression.zstd(1);

    public static InitOptions defaults() {
        return new InitOptions(DEFAULT_CHUNK_SIZE, DEFAULT_COMPRESSION, DEFAULT_PACK_SIZE, null, KeyWrap.DEFAULT_ITERATIONS);
    }

    public InitOptions withChunkSize(int size) {
        return new InitOptions(size, compression, packTargetSize, passphrase, kdfIterations);
    }

    public InitOptions withZstdLevel(int level) {
        return withCompression(Compression.zstd(level));
    }

    public InitOptions withCompression(Compression c) {
        return new InitOptions(chunkSize, c, packTargetSize, passphrase, kdfIterations);
    }

    public InitOptions withPackTargetSize(long size) {
        return new InitOptions(chunkSize, compression, size, passphrase, kdfIterations);
    }

    /** Encrypts the repository; {@code iterations} of PBKDF2 (tests use few, users keep the default). */
    public InitOptions withPassphrase(char[] pass, int iterations) {
        if (iterations < 1000) {
            throw new IllegalArgumentException("at least 1000 PBKDF2 iterations");
        }
        return new InitOptions(chunkSize, compression, packTargetSize, pass, iterations);
    }
}
