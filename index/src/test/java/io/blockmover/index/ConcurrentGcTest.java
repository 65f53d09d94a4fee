package io.blockmover.index;

import io.blockmover.index.TestData.Kind;
import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.DiskReader;
import io.blockmover.index.backup.DiskSpec;
import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.backup.GcFence.Phase;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.maintenance.GarbageCollector;
import io.blockmover.index.maintenance.GcOptions;
import io.blockmover.index.maintenance.GcReport;
import io.blockmover.index.maintenance.Pruner;
import io.blockmover.index.maintenance.Retention;
import io.blockmover.index.maintenance.Verifier;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.repo.internal.RepoInternals;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * gc beside backups and restores. Interleavings are forced through gc's phase observer
 * ({@code GcFence.observeGc}), never by sleeping: each test stops gc at the point it is about,
 * does what a writer or reader would do there, and checks the result byte for byte.
 */
class ConcurrentGcTest {
    static final int N = 30;
    /** Chunks 0..9 shared by both vm1 backups; 10..29 the pruned one's own. */
    static final LongUnaryOperator PRUNED = i -> i < 10 ? 1000 + i : 10_000 + i;
    static final LongUnaryOperator KEPT = i -> i < 10 ? 1000 + i : 20_000 + i;
    static final GcOptions NOW = GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(1.0);
    /** Bounds a wait for another thread, so a bug fails the test instead of hanging it; no timing is asserted. */
    static final long BOUND_SECONDS = 30;

    @TempDir
    Path dir;
    Repository repo;
    long pruned;
    long kept;
    /** Chunks 20..29 of the pruned backup, which no test's writer uses again. */
    List<ChunkId> prunedOnly;
    ExecutorService gcThread;

    @BeforeEach
    void setUp() throws Exception {
        repo = Repository.init(dir.resolve("r"), InitOptions.defaults().withChunkSize(Fixtures.CHUNK).withPackTargetSize(256 << 10));
        pruned = Fixtures.backup(repo, "vm1", N, PRUNED);
        kept = Fixtures.backup(repo, "vm1", N, KEPT);
        prunedOnly = new java.util.ArrayList<>();
        for (int i = 20; i < N; i++) {
            prunedOnly.add(Fixtures.chunkAt(repo, pruned, (long) i * Fixtures.CHUNK));
        }
        gcThread = Executors.newSingleThreadExecutor();
        // Into table files: gc's scans must see every key there too, not only the memtables'.
        RepoInternals.context(repo).db().flushAndCompact();
    }

    @AfterEach
    void tearDown() throws Exception {
        RepoInternals.context(repo).fence().observeGc(null);
        gcThread.shutdownNow();
        repo.close();
    }

    void prune() {
        assertEquals(List.of(pruned), new Pruner(repo).run(new Retention(1, 0, 0, 0, 0), ZoneOffset.UTC, false).removed());
    }

    CompletableFuture<GcReport> gcInBackground(GcOptions options) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return new GarbageCollector(repo).run(options);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, gcThread);
    }

    static void await(CountDownLatch latch) throws InterruptedException {
        assertTrue(latch.await(BOUND_SECONDS, TimeUnit.SECONDS), "gc never reached the phase");
    }

    static long put(DiskWriter d, int i, long seed) throws Exception {
        ByteBuffer b = ByteBuffer.allocateDirect(Fixtures.CHUNK);
        return d.put((long) i * Fixtures.CHUNK, TestData.fill(b, Kind.RANDOM, seed, Fixtures.CHUNK));
    }

    /** A writer of vm2 whose chunk i has seed {@code seeds(i)}. */
    static DiskWriter disk(BackupWriter w) throws Exception {
        return w.addDisk(new DiskSpec("disk0", (long) N * Fixtures.CHUNK, ""));
    }

    /** vm2's backup: chunks 0..9 those only the pruned backup had, then its own. */
    static final LongUnaryOperator VM2 = i -> i < 10 ? 10_000 + 10 + i : 30_000 + i;

    @Test
    void gcCompletesBesideAWriterThatDedupedAPrunedOnlyChunkBeforeItAndTheWriterRestoresExactly() throws Exception {
        try (BackupWriter w = repo.newBackup(BackupSpec.full("vm2", ""))) {
            DiskWriter d = disk(w);
            assertEquals(DiskWriter.DUPLICATE, put(d, 0, VM2.applyAsLong(0)), "deduplicated against the soon pruned backup");
            prune();
            boolean[] storedAfresh = new boolean[1];
            RepoInternals.context(repo).fence().observeGc(p -> {
                if (p == Phase.CONDEMNED) {
                    try {
                        // Condemned now: the same writer stores the pruned backup's other chunks afresh.
                        storedAfresh[0] = put(d, 1, VM2.applyAsLong(1)) > 0;
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                }
            });
            GcReport r = new GarbageCollector(repo).run(NOW); // the writer stays open throughout
            assertTrue(storedAfresh[0], "a condemned chunk is stored again, not deduplicated");
            // Of the pruned backup's own 20 chunks, the two the writer references when gc catches up with
            // it are kept: the one it deduplicated before gc, and the one it stored afresh (harmless).
            assertEquals(18, r.deletedChunkEntries(), r.toString());
            for (int i = 2; i < N; i++) {
                put(d, i, VM2.applyAsLong(i));
            }
            long id = w.commit();
            Fixtures.assertRestores(repo, id, VM2);
            Fixtures.assertRestores(repo, kept, KEPT);
            for (int i = 20; i < N; i++) {
                assertNull(RepoInternals.context(repo).db().location(prunedOnly.get(i - 20)), "only the pruned backup used chunk " + i);
            }
            assertTrue(new Verifier(repo).run(2).ok());
        }
    }

    @Test
    void anIncrementalOpenAcrossGcReusesItsPrunedParentsChunksExactly() throws Exception {
        // Its parent is the backup about to be pruned; it reuses the parent's entries before and after gc.
        LongUnaryOperator seeds = i -> i < 25 ? PRUNED.applyAsLong(i) : 90_000 + i;
        try (BackupWriter w = repo.newBackup(BackupSpec.incremental("vm1", "", pruned))) {
            DiskWriter d = disk(w);
            d.reuse(0, 10L * Fixtures.CHUNK);
            prune();
            GcReport r = new GarbageCollector(repo).run(NOW);
            assertEquals(0, r.deletedChunkEntries(), "all the parent's chunks may still be reused: " + r);
            d.reuse(10L * Fixtures.CHUNK, 15L * Fixtures.CHUNK);
            for (int i = 25; i < N; i++) {
                put(d, i, seeds.applyAsLong(i));
            }
            long id = w.commit();
            Fixtures.assertRestores(repo, id, seeds);
        }
        assertTrue(new Verifier(repo).run(2).ok());
        // Once it is committed, the next gc frees what nobody uses any more: the parent's chunks 25..29.
        assertEquals(5, new GarbageCollector(repo).run(NOW).deletedChunkEntries());
    }

    @Test
    void writersStartedAfterCondemnationStoreFreshCopiesThatSurviveTheSweep() throws Exception {
        prune();
        LongUnaryOperator duringSeeds = i -> i < 5 ? PRUNED.applyAsLong(10 + (int) i) : 40_000 + i;
        // Three chunks: less than a pack, so it is still unsealed and unpublished when gc sweeps and deletes packs.
        LongUnaryOperator lateSeeds = i -> i < 3 ? PRUNED.applyAsLong(15 + (int) i) : 60_000 + i;
        long[] committedDuringGc = new long[1];
        BackupWriter[] late = new BackupWriter[2];
        DiskWriter[] lateDisk = new DiskWriter[2];
        // Chunks 18, 19 then two new ones: a full pack, sealed and published before the sweep, committed after it.
        LongUnaryOperator publishedSeeds = i -> i < 2 ? PRUNED.applyAsLong(18 + (int) i) : 70_000 + i;
        RepoInternals.context(repo).fence().observeGc(p -> {
            if (p != Phase.CONDEMNED) {
                return;
            }
            try {
                // One commits before the sweep, with pruned-only chunks 10..14.
                try (BackupWriter w = repo.newBackup(BackupSpec.full("vm3", ""))) {
                    DiskWriter d = disk(w);
                    for (int i = 0; i < N; i++) {
                        assertTrue(put(d, i, duringSeeds.applyAsLong(i)) > 0, "chunk " + i + " is condemned or new: stored");
                    }
                    committedDuringGc[0] = w.commit();
                }
                // One stores pruned-only chunks 15..17 into a pack it has not even sealed when the sweep runs.
                late[0] = repo.newBackup(BackupSpec.full("vm4", ""));
                lateDisk[0] = disk(late[0]);
                for (int i = 0; i < 3; i++) {
                    assertTrue(put(lateDisk[0], i, lateSeeds.applyAsLong(i)) > 0, "condemned: stored afresh");
                }
                late[1] = repo.newBackup(BackupSpec.full("vm5", ""));
                lateDisk[1] = disk(late[1]);
                for (int i = 0; i < 4; i++) {
                    assertTrue(put(lateDisk[1], i, publishedSeeds.applyAsLong(i)) > 0, "condemned or new: stored afresh");
                }
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        GcReport r = new GarbageCollector(repo).run(NOW);
        assertEquals(13, r.deletedChunkEntries(), "20 candidates, 5 reprieved by the backup committed during gc, 2 repointed "
                + "to fresh copies before the sweep: " + r);
        assertTrue(r.deletedPacks() > 0, r.toString());
        // The late writer finishes after gc: its fresh copies were never in danger.
        try (BackupWriter w = late[0]) {
            for (int i = 3; i < N; i++) {
                put(lateDisk[0], i, lateSeeds.applyAsLong(i));
            }
            Fixtures.assertRestores(repo, w.commit(), lateSeeds);
        }
        try (BackupWriter w = late[1]) {
            for (int i = 4; i < N; i++) {
                put(lateDisk[1], i, publishedSeeds.applyAsLong(i));
            }
            Fixtures.assertRestores(repo, w.commit(), publishedSeeds);
        }
        Fixtures.assertRestores(repo, committedDuringGc[0], duringSeeds);
        Fixtures.assertRestores(repo, kept, KEPT);
        for (int i = 20; i < N; i++) {
            assertNull(RepoInternals.context(repo).db().location(prunedOnly.get(i - 20)), "only the pruned backup used chunk " + i);
        }
        assertTrue(new Verifier(repo).run(2).ok());
    }

    @Test
    void aPackStillBeingWrittenWhenGcStartsIsNotTakenForDead() throws Exception {
        LongUnaryOperator seeds = i -> 80_000 + i;
        try (BackupWriter w = repo.newBackup(BackupSpec.full("vm2", ""))) {
            DiskWriter d = disk(w);
            for (int i = 0; i < 3; i++) {
                assertTrue(put(d, i, seeds.applyAsLong(i)) > 0); // less than a pack: unsealed, nothing in the index names it
            }
            GcReport r = new GarbageCollector(repo).run(NOW); // nothing to condemn, so gc does not wait for this writer
            assertEquals(0, r.deletedPacks(), r.toString());
            for (int i = 3; i < N; i++) {
                put(d, i, seeds.applyAsLong(i));
            }
            Fixtures.assertRestores(repo, w.commit(), seeds);
        }
        assertTrue(new Verifier(repo).run(2).ok());
    }

    @Test
    void restoresOpenAcrossCompactionAndPackDeletionReadEveryChunkExactly() throws Exception {
        BackupReader ofKept = repo.openBackup(kept);
        BackupReader ofPruned = repo.openBackup(pruned);
        prune(); // a restore of a backup being pruned goes on from its snapshot
        CountDownLatch switched = new CountDownLatch(1);
        CountDownLatch checked = new CountDownLatch(1);
        RepoInternals.context(repo).fence().observeGc(p -> {
            if (p == Phase.SWITCHED) {
                switched.countDown();
                try {
                    checked.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        Set<Path> before = packFiles();
        CompletableFuture<GcReport> gc = gcInBackground(NOW);
        await(switched);
        // The index already points at the compacted copies, and the pruned backup's entries are gone.
        assertNull(RepoInternals.context(repo).db().location(prunedOnly.getFirst()));
        assertRestores(ofKept, KEPT);
        assertRestores(ofPruned, PRUNED);
        try (BackupReader fresh = repo.openBackup(kept)) {
            assertRestores(fresh, KEPT); // opened after the switch: reads the new packs, and gc does not wait for it
        }
        checked.countDown();
        assertFalse(gc.isDone(), "gc waits for the readers opened before it switched");
        assertRestores(ofPruned, PRUNED);
        ofPruned.close();
        assertFalse(gc.isDone());
        assertRestores(ofKept, KEPT);
        ofKept.close();
        GcReport r = gc.get(BOUND_SECONDS, TimeUnit.SECONDS);
        assertTrue(r.compactedPacks() > 0 && r.deletedPacks() > 0, r.toString());
        assertEquals(0, r.deferredPacks());
        Set<Path> gone = new HashSet<>(before);
        gone.removeAll(packFiles());
        assertEquals(r.compactedPacks() + r.deletedPacks(), gone.size(), "exactly the emptied packs were deleted, after the readers closed");
        Fixtures.assertRestores(repo, kept, KEPT);
        assertThrows(RepositoryException.class, () -> repo.openBackup(pruned));
        assertTrue(new Verifier(repo).run(2).ok());
    }

    @Test
    void aRestoreThatStaysOpenOnlyDefersPackDeletionToTheNextGc() throws Exception {
        BackupReader open = repo.openBackup(pruned);
        prune();
        GcReport r = new GarbageCollector(repo).run(new GcOptions(Duration.ZERO, 1.0, 50));
        assertEquals(20, r.deletedChunkEntries());
        assertTrue(r.deferredPacks() > 0, r.toString());
        assertEquals(0, r.deletedPacks());
        assertRestores(open, PRUNED);
        open.close();
        GcReport next = new GarbageCollector(repo).run(NOW);
        assertEquals(r.deferredPacks(), next.deletedPacks(), next.toString());
        Fixtures.assertRestores(repo, kept, KEPT);
        assertTrue(new Verifier(repo).run(2).ok());
    }

    static void assertRestores(BackupReader r, LongUnaryOperator seeds) throws Exception {
        DiskReader d = r.disk("disk0");
        ByteBuffer got = ByteBuffer.allocate(Fixtures.CHUNK);
        for (long off = 0; off < d.capacity(); off += Fixtures.CHUNK) {
            got.clear();
            d.read(off, got);
            assertArrayEquals(TestData.bytes(Kind.RANDOM, seeds.applyAsLong((int) (off / Fixtures.CHUNK)), Fixtures.CHUNK), got.array(),
                    "backup " + r.record().id() + " offset " + off);
        }
    }

    Set<Path> packFiles() throws Exception {
        try (var s = Files.walk(repo.root().resolve("packs"))) {
            return new HashSet<>(s.filter(f -> f.toString().endsWith(".pack")).toList());
        }
    }
}
