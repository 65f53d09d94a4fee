package io.blockmover.mover.export;

import io.blockmover.index.format.ChunkId;
import io.netty.buffer.ByteBuf;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The decoded-chunk cache's admission rules and bounds, on its own. */
class ChunkCacheTest {
    private static final int CHUNK = 128 << 10;

    private static ChunkId id(int n) {
        byte[] b = new byte[ChunkId.LENGTH];
        b[0] = (byte) n;
        b[1] = (byte) (n >> 8);
        b[31] = 1;
        return ChunkId.wrap(b);
    }

    private static ByteBuf chunk(ChunkCache cache, int fill) {
        ByteBuf b = cache.allocate(CHUNK);
        for (int i = 0; i < CHUNK; i++) {
            b.writeByte(fill);
        }
        return b;
    }

    /** Offers a chunk read whole, as a copy does: kept only if the cache admits it. */
    private static boolean readWhole(ChunkCache cache, int n) {
        ByteBuf hit = cache.get(id(n));
        if (hit != null) {
            hit.release();
            return true;
        }
        if (cache.admitsWhole(id(n), CHUNK)) {
            cache.putWhole(id(n), chunk(cache, n));
        }
        return false;
    }

    @Test
    void aChunkReadWholeIsKeptOnItsSecondReadAndServedFromTheThird() {
        try (ChunkCache cache = new ChunkCache(4L * CHUNK)) {
            assertFalse(readWhole(cache, 1));
            assertEquals(0, cache.stats().entries(), "a one-pass copy fills nothing");
            assertFalse(readWhole(cache, 1));
            assertEquals(1, cache.stats().entries());
            assertTrue(readWhole(cache, 1));
            ByteBuf b = cache.get(id(1));
            assertEquals(CHUNK, b.readableBytes());
            assertEquals(1, b.getByte(CHUNK - 1));
            b.release();
        }
    }

    @Test
    void aCopyLargerThanTheCacheFillsTheFreeRoomAndEvictsNothing() {
        try (ChunkCache cache = new ChunkCache(4L * CHUNK)) {
            for (int pass = 0; pass < 3; pass++) {
                for (int n = 0; n < 10; n++) {
                    readWhole(cache, n);
                }
            }
            ChunkCache.Stats s = cache.stats();
            assertEquals(4, s.entries(), s.toString());
            assertEquals(4L * CHUNK, s.bytes(), s.toString());
            // The chunks admitted first stay: the third pass found them.
            for (int n = 0; n < 4; n++) {
                ByteBuf b = cache.get(id(n));
                assertNotNull(b, "chunk " + n);
                b.release();
            }
        }
    }

    @Test
    void partReadsEvictTheLeastRecentlyUsedAndTheBoundHolds() {
        try (ChunkCache cache = new ChunkCache(3L * CHUNK)) {
            for (int n = 0; n < 3; n++) {
                cache.putPart(id(n), chunk(cache, n));
            }
            cache.get(id(0)).release(); // 0 is now the most recently used
            cache.putPart(id(3), chunk(cache, 3));
            assertNull(cache.get(id(1)), "the least recently used went first");
            for (int n : new int[] {0, 2, 3}) {
                ByteBuf b = cache.get(id(n));
                assertNotNull(b, "chunk " + n);
                b.release();
            }
            assertEquals(3L * CHUNK, cache.stats().bytes());
            assertFalse(cache.admitsWhole(id(9), CHUNK), "a full cache admits no copy");
            assertFalse(cache.admitsWhole(id(9), CHUNK));
        }
    }

    @Test
    void anEntryEvictedWhileReadStaysValidUntilItsReaderReleasesIt() {
        ChunkCache cache = new ChunkCache(CHUNK);
        cache.putPart(id(1), chunk(cache, 7));
        ByteBuf reading = cache.get(id(1));
        cache.putPart(id(2), chunk(cache, 8)); // evicts 1
        assertNull(cache.get(id(1)));
        assertEquals(1, reading.refCnt(), "the reader's reference keeps the bytes");
        assertEquals(7, reading.getByte(CHUNK / 2));
        reading.release();
        assertEquals(0, reading.refCnt());
        ByteBuf kept = cache.get(id(2));
        cache.close();
        assertEquals(1, kept.refCnt(), "close frees the cache's references, not the readers'");
        kept.release();
        assertNull(cache.get(id(2)));
        assertFalse(cache.admitsWhole(id(3), CHUNK));
    }

    @Test
    void aZeroSizedCacheKeepsNothingAndReleasesWhatItIsOffered() {
        try (ChunkCache cache = new ChunkCache(0)) {
            ByteBuf b = chunk(cache, 1);
            cache.putPart(id(1), b.retain());
            assertEquals(1, b.refCnt(), "refused, and released");
            b.release();
            assertFalse(cache.admitsWhole(id(1), CHUNK));
            assertFalse(cache.admitsWhole(id(1), CHUNK));
            assertEquals(0, cache.stats().entries());
        }
    }
}
