package io.blockmover.index.chunk;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Supplier;

/**
 * Codecs (with their direct buffers and native zstd contexts) reused across calls: as many exist
 * as threads ever used the repository at once, and all are freed when the repository closes.
 */
public final class CodecPool implements AutoCloseable {
    private final ConcurrentLinkedQueue<ChunkCodec> idle = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<ChunkCodec> all = new ConcurrentLinkedQueue<>();
    private final Supplier<ChunkCodec> factory;

    public CodecPool(Supplier<ChunkCodec> factory) {
        this.factory = factory;
    }

    public ChunkCodec borrow() {
        ChunkCodec c = idle.poll();
        if (c == null) {
            c = factory.get();
            all.add(c);
        }
        return c;
    }

    public void release(ChunkCodec codec) {
        idle.add(codec);
    }

    @Override
    public void close() {
        idle.clear();
        ChunkCodec c;
        while ((c = all.poll()) != null) {
            c.close();
        }
    }
}
