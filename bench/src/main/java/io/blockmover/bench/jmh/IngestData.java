package io.blockmover.bench.jmh;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * The chunks the ingest benchmarks feed: {@code VARIANTS} distinct random chunks, as many
 * text-like ones (zstd-1 compresses them about 3×), and one duplicate. The same seed every time,
 * so every harness and run ingests the same bytes.
 */
record IngestData(ByteBuffer[] random, ByteBuffer[] text, ByteBuffer duplicate) {
    static final int VARIANTS = 16;

    /** Page-aligned, so a harness can also write the chunk with O_DIRECT without copying it. */
    static ByteBuffer aligned(int size) {
        return ByteBuffer.allocateDirect(size + 4096).alignedSlice(4096).slice(0, size);
    }

    static IngestData of(int chunkSize) {
        SplittableRandom r = new SplittableRandom(1);
        ByteBuffer[] random = new ByteBuffer[VARIANTS];
        ByteBuffer[] text = new ByteBuffer[VARIANTS];
        byte[] words = "the quick brown fox jumps over the lazy dog; blocks chunks packs manifests digests restore verify prune\n"
                .getBytes(StandardCharsets.US_ASCII);
        for (int v = 0; v < VARIANTS; v++) {
            random[v] = aligned(chunkSize);
            while (random[v].remaining() >= 8) {
                random[v].putLong(r.nextLong());
            }
            random[v].flip();
            text[v] = ByteBuffer.allocateDirect(chunkSize);
            while (text[v].hasRemaining()) {
                int start = r.nextInt(words.length - 12);
                text[v].put(words, start, Math.min(text[v].remaining(), 3 + r.nextInt(9)));
            }
            text[v].flip();
        }
        ByteBuffer duplicate = ByteBuffer.allocateDirect(chunkSize);
        duplicate.put(random[0].duplicate()).flip();
        duplicate.putLong(0, -1);
        return new IngestData(random, text, duplicate);
    }
}
