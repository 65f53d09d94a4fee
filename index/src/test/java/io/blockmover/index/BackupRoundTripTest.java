package io.blockmover.index;

import io.blockmover.index.TestData.Kind;
import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.DiskReader;
import io.blockmover.index.backup.DiskSpec;
import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.RepositoryInUseException;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BackupRoundTripTest {
    static final int CHUNK = 64 << 10;

    @TempDir
    Path dir;

    static Kind kindOf(long i) {
        return switch ((int) (i % 4)) {
            case 0 -> Kind.RANDOM;
            case 1 -> Kind.TEXT;
            case 2 -> Kind.ZERO;
            default -> Kind.RANDOM;
        };
    }

    /** Chunk i of a VM: seeds repeat every 16 chunks for i%4==3, so the disk has internal duplicates. */
    static long seedOf(long vmSeed, long i) {
        return i % 4 == 3 ? 1_000_000 + (i % 16) : vmSeed * 1_000_003L + i;
    }

    @Test
    void fullBackupFromSeveralThreadsRestoresExactly() throws Exception {
        long capacity = 200L * CHUNK + 12345; // a short last chunk
        try (Repository repo = Repository.init(dir.resolve("r"), InitOptions.defaults().withChunkSize(CHUNK).withPackTargetSize(1 << 20))) {
            long id = write(repo, "vm1", capacity, 7, 4);
            BackupRecord rec = repo.backup(id).orElseThrow();
            DiskRecord d = rec.disks().getFirst();
            assertEquals(201, d.chunkCount());
            assertEquals(50, d.zeroChunks());
            // 201 chunks: 50 zero, 50 distinct-by-seed random at i%4==3 collapse to 16 seeds (minus the short one's own).
            assertTrue(d.newChunks() < 201 - 50, "duplicates inside the disk are stored once: " + d.newChunks());
            assertRestores(repo, id, "disk0", capacity, 7);
        }
        // and again after a reopen
        try (Repository repo = Repository.open(dir.resolve("r"), null)) {
            assertRestores(repo, repo.backups().getFirst().id(), "disk0", capacity, 7);
        }
    }

    @Test
    void secondOpenIsRefusedWithTheHolder() throws Exception {
        try (Repository repo = Repository.init(dir.resolve("r"), InitOptions.defaults().withChunkSize(CHUNK))) {
            RepositoryInUseException e = assertThrows(RepositoryInUseException.class, () -> Repository.open(dir.resolve("r"), null));
            assertTrue(e.getMessage().contains("pid " + ProcessHandle.current().pid()), e.getMessage());
        }
    }

    @Test
    void uncommittedAndAbortedBackupsAreInvisibleAndCommitNeedsEveryChunk() throws Exception {
        try (Repository repo = Repository.init(dir.resolve("r"), InitOptions.defaults().withChunkSize(CHUNK))) {
            BackupWriter w = repo.newBackup(BackupSpec.full("vm", "x"));
            DiskWriter d = w.addDisk(new DiskSpec("disk0", 4L * CHUNK, ""));
            ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
            d.put(0, TestData.fill(b, Kind.RANDOM, 1, CHUNK));
            d.putZero(CHUNK);
            assertTrue(repo.backups().isEmpty());
            IllegalStateException e = assertThrows(IllegalStateException.class, w::commit);
            assertTrue(e.getMessage().contains("offset " + 2 * CHUNK), e.getMessage());
            w.abort();
            assertTrue(repo.backups().isEmpty());
            assertThrows(IllegalStateException.class, () -> d.putZero(0));
        }
    }

    @Test
    void incrementalReusesParentAndStoresOnlyChanges() throws Exception {
        int chunks = 400;
        long capacity = (long) chunks * CHUNK;
        try (Repository repo = Repository.init(dir.resolve("r"), InitOptions.defaults().withChunkSize(CHUNK))) {
            long full = writeRandom(repo, "vm1", BackupSpec.full("vm1", "full"), capacity, 11, -1);
            // Change 1% of chunks (4 of 400): reuse everything, then put the changed ones.
            BackupWriter w = repo.newBackup(BackupSpec.incremental("vm1", "incr", full));
            DiskWriter d = w.addDisk(new DiskSpec("disk0", capacity, "cbt/2"));
            d.reuse(0, capacity);
            ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
            long[] changed = {3, 77, 150, 399};
            for (long c : changed) {
                d.put(c * CHUNK, TestData.fill(b, Kind.RANDOM, 99_000 + c, CHUNK));
            }
            long incr = w.commit();
            DiskRecord rec = repo.backup(incr).orElseThrow().disks().getFirst();
            assertEquals(4, rec.newChunks());
            DiskRecord fullRec = repo.backup(full).orElseThrow().disks().getFirst();
            double ratio = (double) rec.newStoredBytes() / fullRec.newStoredBytes();
            assertEquals(0.01, ratio, 0.002, "an incremental after 1% change stores ~1%");
            assertEquals("cbt/2", rec.changeId());
            try (BackupReader r = repo.openBackup(incr)) {
                DiskReader dr = r.disk("disk0");
                ByteBuffer got = ByteBuffer.allocate(CHUNK);
                for (long i = 0; i < chunks; i++) {
                    got.clear();
                    dr.read(i * CHUNK, got);
                    long seed = contains(changed, i) ? 99_000 + i : 11 * 1_000_003L + i;
                    assertArrayEquals(TestData.bytes(Kind.RANDOM, seed, CHUNK), got.array(), "chunk " + i);
                }
            }
        }
    }

    @Test
    void zeroRangesAndManyShortReuseRunsBuildTheRightManifest() throws Exception {
        int chunks = 3000; // three manifest segments
        long capacity = (long) chunks * CHUNK;
        try (Repository repo = Repository.init(dir.resolve("r"), InitOptions.defaults().withChunkSize(CHUNK))) {
            long full;
            try (BackupWriter w = repo.newBackup(BackupSpec.full("vm", "full"))) {
                DiskWriter d = w.addDisk(new DiskSpec("disk0", capacity, ""));
                ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
                d.putZeros(0, capacity); // then overwrite every 7th chunk with data
                for (long i = 0; i < chunks; i += 7) {
                    d.put(i * CHUNK, TestData.fill(b, Kind.RANDOM, i, CHUNK));
                }
                full = w.commit();
            }
            assertEquals(chunks - (chunks + 6) / 7, repo.backup(full).orElseThrow().disks().getFirst().zeroChunks());
            long incr;
            try (BackupWriter w = repo.newBackup(BackupSpec.incremental("vm", "incr", full))) {
                DiskWriter d = w.addDisk(new DiskSpec("disk0", capacity, ""));
                ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
                // Alternate: reuse two chunks, put one new chunk, across segment boundaries.
                for (long i = 0; i < chunks; i += 3) {
                    d.reuse(i * CHUNK, Math.min(2L, chunks - i) * CHUNK);
                    if (i + 2 < chunks) {
                        d.put((i + 2) * CHUNK, TestData.fill(b, Kind.RANDOM, 50_000 + i, CHUNK));
                    }
                }
                incr = w.commit();
            }
            try (BackupReader r = repo.openBackup(incr)) {
                DiskReader d = r.disk("disk0");
                ByteBuffer got = ByteBuffer.allocate(CHUNK);
                for (long i = 0; i < chunks; i++) {
                    got.clear();
                    d.read(i * CHUNK, got);
                    byte[] want = i % 3 == 2 ? TestData.bytes(Kind.RANDOM, 50_000 + i - 2, CHUNK)
                            : i % 7 == 0 ? TestData.bytes(Kind.RANDOM, i, CHUNK) : new byte[CHUNK];
                    assertArrayEquals(want, got.array(), "chunk " + i);
                    assertEquals(i % 3 != 2 && i % 7 != 0, d.isZero(i * CHUNK));
                }
            }
        }
        Repository closed = Repository.open(dir.resolve("r"), null);
        closed.close();
        assertThrows(IllegalStateException.class, closed::backups, "a closed repository refuses use instead of touching freed native memory");
    }

    @Test
    void readOnlyOpenBesideTheWritingProcess() throws Exception {
        long capacity = 40L * CHUNK;
        try (Repository rw = Repository.init(dir.resolve("r"), InitOptions.defaults().withChunkSize(CHUNK))) {
            long id = write(rw, "vm1", capacity, 3, 2);
            try (Repository ro = Repository.openReadOnly(dir.resolve("r"), null)) {
                assertRestores(ro, id, "disk0", capacity, 3);
                assertTrue(new io.blockmover.index.maintenance.Verifier(ro).run(1).ok());
                io.blockmover.index.format.RepositoryException e = assertThrows(io.blockmover.index.format.RepositoryException.class,
                        () -> ro.newBackup(BackupSpec.full("vm2", "")));
                assertTrue(e.getMessage().contains("read-only"), e.getMessage());
                assertThrows(io.blockmover.index.format.RepositoryException.class,
                        () -> new io.blockmover.index.maintenance.GarbageCollector(ro).run(io.blockmover.index.maintenance.GcOptions.defaults()));
            }
            long second = write(rw, "vm1", capacity, 4, 2); // the writer is undisturbed
            assertRestores(rw, second, "disk0", capacity, 4);
        }
    }

    @Test
    void twoVmsWithSharedContentDeduplicate() throws Exception {
        long capacity = 100L * CHUNK;
        try (Repository repo = Repository.init(dir.resolve("r"), InitOptions.defaults().withChunkSize(CHUNK))) {
            // vm A: chunks seeded 0..99; vm B: first half shares A's content, second half its own.
            long a = writeRandom(repo, "vmA", BackupSpec.full("vmA", ""), capacity, 5, -1);
            long b = writeRandom(repo, "vmB", BackupSpec.full("vmB", ""), capacity, 6, 50);
            assertEquals(100, repo.backup(a).orElseThrow().disks().getFirst().newChunks());
            assertEquals(50, repo.backup(b).orElseThrow().disks().getFirst().newChunks());
        }
    }

    @Test
    void concurrentBackupsInOneRepository() throws Exception {
        long capacity = 64L * CHUNK;
        try (Repository repo = Repository.init(dir.resolve("r"), InitOptions.defaults().withChunkSize(CHUNK).withPackTargetSize(256 << 10))) {
            ExecutorService pool = Executors.newFixedThreadPool(3);
            try {
                List<Future<Long>> ids = new ArrayList<>();
                for (int vm = 0; vm < 3; vm++) {
                    int v = vm;
                    ids.add(pool.submit(() -> write(repo, "vm" + v, capacity, 20 + v, 2)));
                }
                for (int vm = 0; vm < 3; vm++) {
                    assertRestores(repo, ids.get(vm).get(), "disk0", capacity, 20 + vm);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    static boolean contains(long[] a, long v) {
        for (long x : a) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }

    /** A random disk whose chunk i has seed vmSeed*1_000_003+i, except chunks below {@code sharedBelow} use seed 5. */
    static long writeRandom(Repository repo, String vm, BackupSpec spec, long capacity, long vmSeed, int sharedBelow) throws Exception {
        try (BackupWriter w = repo.newBackup(spec)) {
            DiskWriter d = w.addDisk(new DiskSpec("disk0", capacity, "cbt/1"));
            ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
            for (long i = 0; i < capacity / CHUNK; i++) {
                long seed = (i < sharedBelow ? 5 : vmSeed) * 1_000_003L + i;
                d.put(i * CHUNK, TestData.fill(b, Kind.RANDOM, seed, CHUNK));
            }
            return w.commit();
        }
    }

    /** Writes a mixed-content disk with {@code threads} threads putting interleaved chunks. */
    static long write(Repository repo, String vm, long capacity, long vmSeed, int threads) throws Exception {
        try (BackupWriter w = repo.newBackup(BackupSpec.full(vm, "t"))) {
            DiskWriter d = w.addDisk(new DiskSpec("disk0", capacity, ""));
            long chunks = DiskRecord.chunkCount(capacity, CHUNK);
            List<Thread> ts = new ArrayList<>();
            List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
            for (int t = 0; t < threads; t++) {
                int me = t;
                ts.add(Thread.ofPlatform().start(() -> {
                    ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
                    try {
                        for (long i = me; i < chunks; i += threads) {
                            int len = (int) Math.min(CHUNK, capacity - i * CHUNK);
                            d.put(i * CHUNK, TestData.fill(b, kindOf(i), seedOf(vmSeed, i), len));
                        }
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                }));
            }
            for (Thread t : ts) {
                t.join();
            }
            if (!errors.isEmpty()) {
                throw new AssertionError(errors.getFirst());
            }
            return w.commit();
        }
    }

    static void assertRestores(Repository repo, long id, String disk, long capacity, long vmSeed) throws Exception {
        try (BackupReader r = repo.openBackup(id)) {
            DiskReader d = r.disk(disk);
            ByteBuffer got = ByteBuffer.allocate(CHUNK);
            for (long i = 0; i < DiskRecord.chunkCount(capacity, CHUNK); i++) {
                int len = (int) Math.min(CHUNK, capacity - i * CHUNK);
                got.clear();
                assertEquals(len, d.read(i * CHUNK, got));
                assertArrayEquals(TestData.bytes(kindOf(i), seedOf(vmSeed, i), len), java.util.Arrays.copyOf(got.array(), len), "chunk " + i);
            }
        }
    }
}
