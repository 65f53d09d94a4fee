package io.blockmover.index.pack;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Reads from many more packs than the store keeps open, from several threads at once: the
 * store closes cached channels to bound file descriptors, and a read whose channel is closed
 * under it must still succeed. The race that once made verify report a healthy chunk as
 * unreadable (a channel evicted between leaving the cache and the read starting, twice in a
 * row) is microseconds wide and not reproduced here on demand; the store now finishes such a
 * read on a private channel, and this test keeps eviction under concurrent reads honest.
 */
class LocalPackStoreConcurrencyTest {
    private static final int PACKS = 64;
    private static final int RECORD = 64 << 10;
    private static final int READS = 2_000;

    @TempDir
    Path dir;

    @Test
    void readsSucceedWhileTheChannelCacheEvictsUnderThem() throws Exception {
        // A cache of 2 channels: readers of different packs close each other's channels constantly.
        try (LocalPackStore store = new LocalPackStore(dir, 2, true)) {
            for (long id = 1; id <= PACKS; id++) {
                try (PackStore.Output out = store.create(id)) {
                    out.append(record(id));
                    out.sync();
                }
            }
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<Integer>> readers = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    long seed = t;
                    readers.add(pool.submit(() -> {
                        SplittableRandom r = new SplittableRandom(seed);
                        ByteBuffer dst = ByteBuffer.allocate(RECORD);
                        int reads = 0;
                        for (int i = 0; i < READS; i++) {
                            long id = 1 + r.nextInt(PACKS);
                            dst.clear();
                            assertEquals(RECORD, store.read(id, 0, dst), "pack " + id);
                            assertEquals(record(id).getLong(0), dst.getLong(0), "pack " + id + " content");
                            reads++;
                        }
                        return reads;
                    }));
                }
                for (Future<Integer> f : readers) {
                    assertEquals(READS, f.get());
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    private static ByteBuffer record(long id) {
        ByteBuffer b = ByteBuffer.allocate(RECORD);
        while (b.hasRemaining()) {
            b.putLong(id * 0x9E3779B97F4A7C15L);
        }
        return b.flip();
    }
}
