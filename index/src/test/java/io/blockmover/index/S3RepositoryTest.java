package io.blockmover.index;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.blockmover.index.TestData.Kind;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.DiskSpec;
import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.maintenance.GarbageCollector;
import io.blockmover.index.maintenance.GcOptions;
import io.blockmover.index.maintenance.GcReport;
import io.blockmover.index.maintenance.Pruner;
import io.blockmover.index.maintenance.RebuildReport;
import io.blockmover.index.maintenance.Retention;
import io.blockmover.index.maintenance.VerifyReport;
import io.blockmover.index.maintenance.Verifier;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.RepositoryConfig;
import io.blockmover.index.repo.Repository;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.s3.LockTiming;
import io.blockmover.index.s3.RequestCounts;
import io.blockmover.index.s3.S3ProxyServer;
import io.blockmover.index.s3.S3Repository;
import io.blockmover.index.s3.S3Target;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongUnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Repositories in a real S3 server (s3proxy on loopback, filesystem backend): the commit
 * protocol, maintenance, several proxies sharing a bucket, a lost cache and a store that goes away.
 */
class S3RepositoryTest {
    private static final int CHUNK = Fixtures.CHUNK;
    @TempDir
    static Path dir;
    private static S3ProxyServer s3;
    private static int buckets;

    @BeforeAll
    static void startS3() throws Exception {
        s3 = S3ProxyServer.start(dir.resolve("s3proxy"));
    }

    @AfterAll
    static void stopS3() throws Exception {
        s3.close();
    }

    /** A fresh bucket per test, and a proxy of that name with its own cache. */
    private static S3Repository.Access proxy(String bucket, String proxyId, Duration retryBudget) {
        return new S3Repository.Access(new S3Target(bucket, "repo"), s3.settings(retryBudget), proxyId,
                dir.resolve("cache-" + bucket + "-" + proxyId),
                new LockTiming(Duration.ofSeconds(1), Duration.ofSeconds(10), Duration.ofSeconds(2)));
    }

    private static synchronized String newBucket() {
        return "bucket-" + (++buckets);
    }

    private static InitOptions small() {
        return InitOptions.defaults().withChunkSize(CHUNK).withPackTargetSize(1 << 20);
    }

    private static long bucketBytes(String bucket, String under) throws Exception {
        Path p = s3.dataDir().resolve(bucket).resolve("repo").resolve(under);
        if (!Files.exists(p)) {
            return 0;
        }
        try (Stream<Path> s = Files.walk(p)) {
            return s.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        }
    }

    @Test
    void fullIncrementalRestoreVerifyPruneAndGcInABucket() throws Exception {
        String bucket = newBucket();
        LongUnaryOperator first = i -> i % 5 == 4 ? 0 : 1000 + i;
        LongUnaryOperator second = i -> i < 4 ? 5000 + i : first.applyAsLong(i);
        try (Repository repo = S3Repository.init(proxy(bucket, "p1", Duration.ofSeconds(10)), small())) {
            RequestCounts before = S3Repository.counts(repo);
            long full = Fixtures.backup(repo, "vm1", 40, first);
            long incremental;
            try (BackupWriter w = repo.newBackup(BackupSpec.incremental("vm1", "vm1", full))) {
                DiskWriter d = w.addDisk(new DiskSpec("disk0", 40L * CHUNK, ""));
                ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
                for (int i = 0; i < 4; i++) {
                    d.put((long) i * CHUNK, TestData.fill(b, Kind.RANDOM, second.applyAsLong(i), CHUNK));
                }
                d.reuse(4L * CHUNK, 36L * CHUNK);
                incremental = w.commit();
            }
            RequestCounts used = S3Repository.counts(repo).minus(before);
            assertTrue(used.puts() > 0 && used.bytesUp() > 32L * CHUNK, "uploaded: " + used);
            Fixtures.assertRestores(repo, full, first);
            Fixtures.assertRestores(repo, incremental, second);
            RequestCounts beforeRestore = S3Repository.counts(repo);
            Fixtures.assertRestores(repo, incremental, second);
            RequestCounts restore = S3Repository.counts(repo).minus(beforeRestore);
            // A restore reads its packs in order: a few windowed GETs, not one per chunk, and no more than the packs hold.
            assertTrue(restore.gets() < 16 && restore.bytesDown() < 4L << 20, "restore: " + restore);
            RequestCounts beforeVerify = S3Repository.counts(repo);
            assertTrue(new Verifier(repo).run(2).ok());
            // verify walks the index by digest: an exact ranged GET per chunk record (36 of them).
            RequestCounts verify = S3Repository.counts(repo).minus(beforeVerify);
            assertTrue(verify.gets() >= 36 && verify.bytesDown() < 36L * (CHUNK + 100), "verify: " + verify);

            assertEquals(1, new Pruner(repo).run(new Retention(1, 0, 0, 0, 0), ZoneOffset.UTC, false).removed().size());
            GcReport gc = new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(0));
            assertEquals(4, gc.deletedChunkEntries(), gc.toString());
            VerifyReport v = new Verifier(repo).run(2);
            assertTrue(v.ok(), v.toString());
            Fixtures.assertRestores(repo, incremental, second);
        }
        // Another proxy sees what gc and prune left.
        try (Repository other = S3Repository.open(proxy(bucket, "p2", Duration.ofSeconds(10)), null)) {
            assertEquals(1, other.backups().size());
            Fixtures.assertRestores(other, other.backups().getFirst().id(), second);
            assertTrue(new Verifier(other).run(2).ok());
        }
    }

    /** Frames are records in packs: a bucket, its index segments and a second proxy need nothing else. */
    @Test
    void framesInABucketRestoreFromAnotherProxyAndSurviveGc() throws Exception {
        String bucket = newBucket();
        LongUnaryOperator first = i -> 100 + i;
        LongUnaryOperator second = i -> i == 3 ? 103 : 800 + i; // keeps one chunk of the first backup's first frame
        try (Repository repo = S3Repository.init(proxy(bucket, "p1", Duration.ofSeconds(10)), small().withFrameSize(8 * CHUNK))) {
            FramesTest.backup(repo, "vm1", 16, 8, first);
            long kept = FramesTest.backup(repo, "vm1", 16, 8, second);
            assertTrue(FramesTest.location(repo, kept, 3).framed());
            assertEquals(1, new Pruner(repo).run(new Retention(1, 0, 0, 0, 0), ZoneOffset.UTC, false).removed().size());
            new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(0.9));
            FramesTest.assertRestores(repo, kept, second);
            assertTrue(new Verifier(repo).run(2).ok());
        }
        try (Repository other = S3Repository.open(proxy(bucket, "p2", Duration.ofSeconds(10)), null)) {
            assertEquals(RepositoryConfig.FRAMES_FORMAT_VERSION, other.config().formatVersion());
            FramesTest.assertRestores(other, other.backups().getFirst().id(), second);
            VerifyReport v = new Verifier(other).run(2);
            assertTrue(v.ok(), v.toString());
            assertEquals(16, v.chunksChecked());
        }
    }

    @Test
    void twoProxiesAtOnceDeduplicateAgainstEachOther() throws Exception {
        String bucket = newBucket();
        LongUnaryOperator vm1 = i -> 100 + i;
        // vm2 shares its first 30 chunks with vm1, the last 10 are its own.
        LongUnaryOperator vm2 = i -> i < 30 ? 100 + i : 9000 + i;
        try (Repository a = S3Repository.init(proxy(bucket, "pa", Duration.ofSeconds(10)), small());
             Repository b = S3Repository.open(proxy(bucket, "pb", Duration.ofSeconds(10)), null)) {
            long first = Fixtures.backup(a, "vm1", 40, vm1);
            // Both at once: a's second backup of vm1 and b's first of vm2.
            CompletableFuture<Long> again = CompletableFuture.supplyAsync(() -> {
                try {
                    return Fixtures.backup(a, "vm1", 40, vm1);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            long other = Fixtures.backup(b, "vm2", 40, vm2);
            long second = again.join();
            BackupRecord r = b.backup(other).orElseThrow();
            assertEquals(10, r.disks().getFirst().newChunks(), "b stores only the chunks a has not");
            assertEquals(0, a.backup(second).orElseThrow().disks().getFirst().newChunks());
            Fixtures.assertRestores(a, other, vm2);
            Fixtures.assertRestores(b, first, vm1);
            Fixtures.assertRestores(b, second, vm1);
        }
        // Random data does not compress: what the bucket holds is 50 chunks, not 80 or 90.
        long packs = bucketBytes(bucket, "packs");
        assertTrue(packs > 50L * CHUNK && packs < 53L * CHUNK, "packs hold " + packs + " bytes");
    }

    @Test
    void aLostLocalCacheIsRebuiltFromTheBucket() throws Exception {
        String bucket = newBucket();
        LongUnaryOperator seeds = i -> 300 + i;
        S3Repository.Access p = proxy(bucket, "p1", Duration.ofSeconds(10));
        long id;
        try (Repository repo = S3Repository.init(p, small())) {
            id = Fixtures.backup(repo, "vm1", 20, seeds);
        }
        try (Stream<Path> s = Files.walk(p.cacheDir())) {
            for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
        try (Repository repo = S3Repository.open(p, null)) {
            assertEquals(id, repo.backups().getFirst().id());
            Fixtures.assertRestores(repo, id, seeds);
            long again = Fixtures.backup(repo, "vm1", 20, seeds);
            assertEquals(0, repo.backup(again).orElseThrow().disks().getFirst().newChunks(), "the rebuilt index dedups");
        }
        try (Repository repo = S3Repository.rebuildIndex(p, null)) {
            assertEquals(2, repo.backups().size());
            assertTrue(new Verifier(repo).run(2).ok());
        }
    }

    @Test
    void rebuildIndexScansTheBucketsPacksWhenItsIndexAndCatalogAreLost() throws Exception {
        String bucket = newBucket();
        LongUnaryOperator seeds = i -> 400 + i;
        LongUnaryOperator changed = i -> i < 3 ? 4400 + i : seeds.applyAsLong(i);
        S3Repository.Access p1 = proxy(bucket, "p1", Duration.ofSeconds(10));
        long first;
        long second;
        try (Repository repo = S3Repository.init(p1, small())) {
            first = Fixtures.backup(repo, "vm1", 24, seeds);
            second = Fixtures.backup(repo, "vm1", 24, changed);
        }
        // Everything but the packs and the config is gone: the index segments, the backup objects, the cache.
        Path root = s3.dataDir().resolve(bucket).resolve("repo");
        deleteTree(root.resolve("index"));
        deleteTree(root.resolve("backups"));
        deleteTree(p1.cacheDir());
        RebuildReport report = S3Repository.rebuildFromPacks(p1, null);
        assertEquals(2, report.backupsRecovered(), report.toString());
        assertTrue(report.packsScanned() >= 3 && report.chunkRecords() >= 27 && report.problems().isEmpty(), report.toString());
        try (Repository repo = S3Repository.open(p1, null)) {
            assertEquals(2, repo.backups().size());
            Fixtures.assertRestores(repo, first, seeds);
            Fixtures.assertRestores(repo, second, changed);
            assertTrue(new Verifier(repo).run(2).ok());
        }
        // Another proxy, with no cache, learns it all from the bucket: the republished backups and index.
        try (Repository repo = S3Repository.open(proxy(bucket, "p2", Duration.ofSeconds(10)), null)) {
            assertEquals(2, repo.backups().size());
            Fixtures.assertRestores(repo, second, changed);
            long again = Fixtures.backup(repo, "vm1", 24, changed);
            assertEquals(0, repo.backup(again).orElseThrow().disks().getFirst().newChunks(), "the rebuilt index dedups");
        }
    }

    private static void deleteTree(Path p) throws Exception {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }

    @Test
    void aStoreBackWithinTheRetryBudgetLetsTheBackupFinish() throws Exception {
        String bucket = newBucket();
        LongUnaryOperator seeds = i -> 700 + i;
        try (Repository repo = S3Repository.init(proxy(bucket, "p1", Duration.ofSeconds(30)), small())) {
            long id;
            try (BackupWriter w = repo.newBackup(BackupSpec.full("vm1", "vm1"))) {
                DiskWriter d = w.addDisk(new DiskSpec("disk0", 40L * CHUNK, ""));
                ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
                for (int i = 0; i < 40; i++) {
                    if (i == 20) {
                        s3.stop();
                        CompletableFuture.runAsync(() -> {
                            try {
                                Thread.sleep(2_000);
                                s3.startAgain();
                            } catch (Exception e) {
                                throw new IllegalStateException(e);
                            }
                        });
                    }
                    d.put((long) i * CHUNK, TestData.fill(b, Kind.RANDOM, seeds.applyAsLong(i), CHUNK));
                }
                id = w.commit();
            }
            assertTrue(S3Repository.counts(repo).retries() > 0, "the outage was retried");
            Fixtures.assertRestores(repo, id, seeds);
        } finally {
            s3.startAgain();
        }
    }

    @Test
    void aStoreDownForGoodFailsTheBackupInOneLineAndLeavesTheRepositoryConsistent() throws Exception {
        String bucket = newBucket();
        S3Repository.Access p = proxy(bucket, "p1", Duration.ofSeconds(2));
        long kept;
        try (Repository repo = S3Repository.init(p, small())) {
            kept = Fixtures.backup(repo, "vm1", 20, i -> 800 + i);
            s3.stop();
            Exception e = assertThrows(Exception.class, () -> Fixtures.backup(repo, "vm1", 40, i -> 900 + i));
            String m = e.getMessage();
            assertFalse(m.contains("\n"), m);
            assertTrue(m.contains("127.0.0.1") && m.contains("attempts"), m);
        } finally {
            s3.startAgain();
        }
        try (Repository repo = S3Repository.open(p, null)) {
            assertEquals(1, repo.backups().size());
            assertEquals(kept, repo.backups().getFirst().id());
            VerifyReport v = new Verifier(repo).run(2);
            assertTrue(v.ok(), v.toString());
        }
    }

    @Test
    void gcWaitsForNoOneButIsRefusedWhileAnotherProxyBacksUp() throws Exception {
        String bucket = newBucket();
        try (Repository a = S3Repository.init(proxy(bucket, "pa", Duration.ofSeconds(10)), small());
             Repository b = S3Repository.open(proxy(bucket, "pb", Duration.ofSeconds(10)), null);
             BackupWriter open = a.newBackup(BackupSpec.full("vm1", "vm1"))) {
            RepositoryException e = assertThrows(RepositoryException.class,
                    () -> new GarbageCollector(b).run(GcOptions.defaults().withGrace(Duration.ZERO)));
            assertTrue(e.getMessage().contains("proxy pa holds a shared lock"), e.getMessage());
            open.abort();
            new GarbageCollector(b).run(GcOptions.defaults().withGrace(Duration.ZERO));
        }
    }
}
