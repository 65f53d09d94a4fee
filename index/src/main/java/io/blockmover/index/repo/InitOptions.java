package io.blockmover.index.repo;

import io.blockmover.index.chunk.KeyWrap;

/**
 * Choices made once, at {@code init}. Defaults: 128 KiB chunks (see README "Chunk store" for the
 * measurement), zstd level 1, 64 MiB packs, no encryption.
 */
public record InitOptions(int chunkSize, int zstdLevel, long packTargetSize, char[] passphrase, int kdfIterations) {
    public static final int DEFAULT_CHUNK_SIZE = 128 << 10;
    public static final long DEFAULT_PACK_SIZE = 64L << 20;

    public static InitOptions defaults() {
        return new InitOptions(DEFAULT_CHUNK_SIZE, 1, DEFAULT_PACK_SIZE, null, KeyWrap.DEFAULT_ITERATIONS);
    }

    public InitOptions withChunkSize(int size) {
        return new InitOptions(size, zstdLevel, packTargetSize, passphrase, kdfIterations);
    }

    public InitOptions withZstdLevel(int level) {
        return new InitOptions(chunkSize, level, packTargetSize, passphrase, kdfIterations);
    }

    public InitOptions withPackTargetSize(long size) {
        return new InitOptions(chunkSize, zstdLevel, size, passphrase, kdfIterations);
    }

    /** Encrypts the repository; {@code iterations} of PBKDF2 (tests use few, users keep the default). */
    public InitOptions withPassphrase(char[] pass, int iterations) {
        if (iterations < 1000) {
            throw new IllegalArgumentException("at least 1000 PBKDF2 iterations");
        }
        return new InitOptions(chunkSize, zstdLevel, packTargetSize, pass, iterations);
    }
}
