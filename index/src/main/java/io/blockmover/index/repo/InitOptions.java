package io.blockmover.index.repo;

import io.blockmover.index.chunk.Compression;
import io.blockmover.index.chunk.KeyWrap;

/**
 * Choices made once, at {@code init}. Defaults: 128 KiB chunks (see docs/chunk-store.md for the
 * measurement), {@link #DEFAULT_COMPRESSION}, 64 MiB packs, no encryption.
 */
public record InitOptions(int chunkSize, Compression compression, long packTargetSize, char[] passphrase, int kdfIterations,
                          boolean subchunkDedup, int frameSize) {
    public static final int DEFAULT_CHUNK_SIZE = 128 << 10;
    public static final long DEFAULT_PACK_SIZE = 64L << 20;
    public static final Compression DEFAULT_COMPRESSION = Compression.zstd(1);
    /** Sub-chunk (4 KiB) dedup in a new local repository: docs/performance.md "2026-12-05, issue 18: 4 KiB duplicates". */
    public static final boolean DEFAULT_SUBCHUNK_DEDUP = true;

    /** Chunks per frame by default (docs/performance.md, "2026-12-05, issue 18: frames"). */
    public static final int DEFAULT_FRAME_CHUNKS = 1;

    public static InitOptions defaults() {
        return new InitOptions(DEFAULT_CHUNK_SIZE, DEFAULT_COMPRESSION, DEFAULT_PACK_SIZE, null, KeyWrap.DEFAULT_ITERATIONS, DEFAULT_SUBCHUNK_DEDUP,
                DEFAULT_FRAME_CHUNKS * DEFAULT_CHUNK_SIZE);
    }

    /** A new chunk size; the frame keeps its number of chunks. */
    public InitOptions withChunkSize(int size) {
        return new InitOptions(size, compression, packTargetSize, passphrase, kdfIterations, subchunkDedup, frameSize / chunkSize * size);
    }

    /**
     * Frames of up to {@code size} bytes (a multiple of the chunk size): consecutive new chunks of
     * one disk compressed together (format 4). The chunk size itself means one chunk per record.
     */
    public InitOptions withFrameSize(int size) {
        return new InitOptions(chunkSize, compression, packTargetSize, passphrase, kdfIterations, subchunkDedup, size);
    }

    public InitOptions withZstdLevel(int level) {
        return withCompression(Compression.zstd(level));
    }

    public InitOptions withCompression(Compression c) {
        return new InitOptions(chunkSize, c, packTargetSize, passphrase, kdfIterations, subchunkDedup, frameSize);
    }

    public InitOptions withPackTargetSize(long size) {
        return new InitOptions(chunkSize, compression, size, passphrase, kdfIterations, subchunkDedup, frameSize);
    }

    /** Encrypts the repository; {@code iterations} of PBKDF2 (tests use few, users keep the default). */
    public InitOptions withPassphrase(char[] pass, int iterations) {
        if (iterations < 1000) {
            throw new IllegalArgumentException("at least 1000 PBKDF2 iterations");
        }
        return new InitOptions(chunkSize, compression, packTargetSize, pass, iterations, subchunkDedup, frameSize);
    }

    /** Deduplicates 4 KiB blocks inside new chunks against stored chunks (repository format 3). */
    public InitOptions withSubchunkDedup(boolean on) {
        return new InitOptions(chunkSize, compression, packTargetSize, passphrase, kdfIterations, on, frameSize);
    }
}
