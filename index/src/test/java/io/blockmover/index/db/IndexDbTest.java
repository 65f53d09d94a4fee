package io.blockmover.index.db;

import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.ChunkLocation;
import io.blockmover.index.repo.RepositoryConfig;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.FlushOptions;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;

/**
 * The chunks CF (a PlainTable with a prefix hash index, FORMAT.md) answers point lookups and whole
 * ordered scans wherever its entries are: compacted tables, a fresh flush, the memtable, with
 * deletions on top, and keys sharing their 8-byte prefix (digests almost never do; lookups must
 * still be exact when they do).
 */
class IndexDbTest {
    @TempDir
    Path dir;

    private final TreeMap<byte[], ChunkLocation> expected = new TreeMap<>(Arrays::compareUnsigned);
    private final SplittableRandom random = new SplittableRandom(5);

    @Test
    void lookupsAndScansSeeEveryEntryWhereverItLives() throws Exception {
        Path path = dir.resolve("index");
        List<byte[]> deleted = new ArrayList<>();
        try (IndexDb db = IndexDb.open(path, RepositoryConfig.FORMAT_VERSION)) {
            put(db, randomKeys(20_000));
            put(db, samePrefixKeys(300)); // longer than one sparse index interval (16) of a prefix
            db.flushAndCompact();
            try (WriteBatch b = new WriteBatch()) {
                int n = 0;
                for (byte[] k : expected.keySet()) {
                    if (n++ % 97 == 0) {
                        b.delete(db.chunks(), k);
                        deleted.add(k);
                    }
                }
                db.write(b, false);
            }
            deleted.forEach(expected::remove);
            put(db, randomKeys(10_000));
            try (FlushOptions f = new FlushOptions().setWaitForFlush(true)) {
                db.rocks().flush(f, db.chunks()); // a table beside the compacted ones
            }
            put(db, randomKeys(5_000)); // stays in the memtable
            put(db, samePrefixKeys(40));
            assertSeesExactly(db, deleted);
        }
        try (IndexDb db = IndexDb.open(path, RepositoryConfig.FORMAT_VERSION, true)) {
            assertSeesExactly(db, deleted); // read-only, after the memtable went to the log and back
        }
        try (IndexDb db = IndexDb.open(path, RepositoryConfig.FORMAT_VERSION)) {
            db.flushAndCompact();
            assertSeesExactly(db, deleted);
        }
    }

    private void assertSeesExactly(IndexDb db, List<byte[]> deleted) {
        byte[] scratch = new byte[ChunkLocation.ENCODED];
        for (var e : expected.entrySet()) {
            ChunkId id = ChunkId.wrap(e.getKey());
            assertTrue(db.contains(id, scratch), id.hex());
            assertEquals(e.getValue(), db.location(id));
        }
        for (byte[] k : deleted) {
            assertFalse(db.contains(ChunkId.wrap(k), scratch));
        }
        for (byte[] k : randomKeys(5_000)) {
            assertNull(db.location(ChunkId.wrap(k)));
        }
        for (byte[] k : samePrefixKeys(5)) { // the prefix exists, these keys do not
            assertFalse(db.contains(ChunkId.wrap(k), scratch));
        }
        assertScan(db.iterator(db.chunks()));
        try (ReadOptions plain = new ReadOptions()) { // default read options, as a snapshot reader builds them
            assertScan(db.rocks().newIterator(db.chunks(), plain));
        }
    }

    private void assertScan(RocksIterator it) {
        try (it) {
            var want = expected.entrySet().iterator();
            for (it.seekToFirst(); it.isValid(); it.next()) {
                var e = want.next();
                assertArrayEquals(e.getKey(), it.key());
                assertArrayEquals(e.getValue().encode(), it.value());
            }
            assertFalse(want.hasNext(), "the scan ended early");
            it.status(); // throws if the scan stopped on an error
        } catch (org.rocksdb.RocksDBException e) {
            throw new AssertionError(e);
        }
    }

    private void put(IndexDb db, List<byte[]> keys) {
        try (WriteBatch b = new WriteBatch()) {
            for (byte[] k : keys) {
                ChunkLocation loc = new ChunkLocation(random.nextLong(1, 1 << 20), random.nextLong(1L << 40), 1 << 18, 1 << 18, random.nextInt(4));
                b.put(db.chunks(), k, loc.encode());
                expected.put(k, loc);
            }
            db.write(b, false);
        } catch (org.rocksdb.RocksDBException e) {
            throw new AssertionError(e);
        }
    }

    private List<byte[]> randomKeys(int n) {
        List<byte[]> keys = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            byte[] k = new byte[ChunkId.LENGTH];
            random.nextBytes(k);
            keys.add(k);
        }
        return keys;
    }

    /** Keys whose first 8 bytes (the hash index's prefix) are all the same. */
    private List<byte[]> samePrefixKeys(int n) {
        List<byte[]> keys = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            byte[] k = new byte[ChunkId.LENGTH];
            random.nextBytes(k);
            ByteBuffer.wrap(k).putLong(0x5EED_5EED_5EED_5EEDL);
            keys.add(k);
        }
        return keys;
    }
}
