package io.blockmover.index;

import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.backup.DiskReader;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.maintenance.GarbageCollector;
import io.blockmover.index.maintenance.GcOptions;
import io.blockmover.index.maintenance.GcReport;
import io.blockmover.index.maintenance.RepositoryStats;
import io.blockmover.index.maintenance.Verifier;
import io.blockmover.index.maintenance.VerifyReport;
import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;

import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGKILLs a child JVM that is writing backups, at random moments, many times. After each kill
 * the repository must show only complete backups (each restores byte for byte) and verify clean;
 * at the end gc must reclaim every byte the dead writers left behind.
 */
class CrashRecoveryTest {
    static final int ITERATIONS = 15;
    static final int GC_ITERATIONS = 8;

    @TempDir
    Path dir;

    @Test
    void killedWritersNeverLeaveAPartialBackup() throws Exception {
        Path root = dir.resolve("repo");
        Repository.init(root, InitOptions.defaults().withChunkSize(CrashChild.CHUNK).withPackTargetSize(512 << 10)).close();
        SplittableRandom r = new SplittableRandom(42);
        int committedSeen = 0;
        for (int iter = 0; iter < ITERATIONS; iter++) {
            Process p = startChild(root, iter + 1);
            try {
                awaitReady(p);
                Thread.sleep(30 + r.nextInt(700));
            } finally {
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
            }
            try (Repository repo = Repository.open(root, null)) {
                List<BackupRecord> backups = repo.backups();
                for (BackupRecord b : backups) {
                    assertRestoresExactly(repo, b);
                }
                VerifyReport v = new Verifier(repo).run(2);
                assertTrue(v.ok(), "iteration " + iter + ": " + v);
                committedSeen = backups.size();
            }
        }
        assertTrue(committedSeen > 0, "the children committed at least one backup in " + ITERATIONS + " runs");
        try (Repository repo = Repository.open(root, null)) {
            GcReport gc = new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(1.0));
            System.out.println("after " + ITERATIONS + " kills: " + committedSeen + " backups; " + gc);
            assertTrue(gc.freedBytes() > 0, "killed writers left pack data behind: " + gc);
            RepositoryStats s = RepositoryStats.of(repo);
            // Every remaining pack byte is a live record or pack framing: nothing orphaned is left.
            assertEquals(s.storedBytes() + (long) s.packs() * (PackFormat.FILE_HEADER + PackFormat.FOOTER), s.packBytes(), s.toString());
            try (var tmp = Files.list(root.resolve("tmp"))) {
                assertEquals(0, tmp.count());
            }
            for (BackupRecord b : repo.backups()) {
                assertRestoresExactly(repo, b);
            }
            assertTrue(new Verifier(repo).run(2).ok());
        }
    }

    /**
     * The same kills while the child also prunes, collects garbage and restores beside its
     * backups: gc killed at any point leaves a repository whose backups all restore and verify,
     * and no restore in the child ever read a wrong or missing chunk.
     */
    @Test
    void killedWhileGcAndRestoresRunBesideTheBackups() throws Exception {
        Path root = dir.resolve("repo");
        Path failures = dir.resolve("child-failure.txt");
        Repository.init(root, InitOptions.defaults().withChunkSize(CrashChild.CHUNK).withPackTargetSize(512 << 10)).close();
        SplittableRandom r = new SplittableRandom(7);
        for (int iter = 0; iter < GC_ITERATIONS; iter++) {
            Process p = startChild(root, iter + 1, failures);
            try {
                awaitReady(p);
                Thread.sleep(200 + r.nextInt(800));
                assertTrue(p.isAlive(), "the child failed beside its backups (status " + (p.isAlive() ? 0 : p.exitValue()) + "):\n"
                        + (Files.exists(failures) ? Files.readString(failures) : "no report"));
            } finally {
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
            }
            try (Repository repo = Repository.open(root, null)) {
                for (BackupRecord b : repo.backups()) {
                    assertRestoresExactly(repo, b);
                }
                VerifyReport v = new Verifier(repo).run(2);
                assertTrue(v.ok(), "iteration " + iter + ": " + v);
            }
        }
        try (Repository repo = Repository.open(root, null)) {
            GcReport gc = new GarbageCollector(repo).run(GcOptions.defaults().withGrace(Duration.ZERO).withCompactBelow(1.0));
            RepositoryStats s = RepositoryStats.of(repo);
            assertEquals(s.storedBytes() + (long) s.packs() * (PackFormat.FILE_HEADER + PackFormat.FOOTER), s.packBytes(),
                    "after " + gc + ": " + s);
            for (BackupRecord b : repo.backups()) {
                assertRestoresExactly(repo, b);
            }
            assertTrue(new Verifier(repo).run(2).ok());
        }
    }

    static void assertRestoresExactly(Repository repo, BackupRecord b) throws Exception {
        String[] parts = b.label().split(",");
        long seed = Long.parseLong(parts[0].substring("seed=".length()));
        int chunks = Integer.parseInt(parts[1].substring("chunks=".length()));
        try (BackupReader r = repo.openBackup(b.id())) {
            DiskReader d = r.disk("disk0");
            assertEquals((long) chunks * CrashChild.CHUNK, d.capacity());
            ByteBuffer got = ByteBuffer.allocate(CrashChild.CHUNK);
            for (int i = 0; i < chunks; i++) {
                got.clear();
                d.read((long) i * CrashChild.CHUNK, got);
                assertArrayEquals(TestData.bytes(CrashChild.kind(seed, i), CrashChild.chunkSeed(seed, i), CrashChild.CHUNK), got.array(),
                        "backup " + b.id() + " chunk " + i);
            }
        }
    }

    static Process startChild(Path root, long seed, Path... failures) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // RocksDB and zstd-jni copy their JNI libraries (~15 MB) into the temporary directory and
        // delete them at exit; a killed child never exits, so its copies go into the test's own
        // directory, which JUnit removes, instead of piling up in /tmp (12 GB here once).
        Path tmp = Files.createDirectories(root.resolveSibling("child-tmp"));
        List<String> cmd = new java.util.ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-Djava.io.tmpdir=" + tmp, "-cp", System.getProperty("java.class.path"), CrashChild.class.getName(), root.toString(), Long.toString(seed)));
        for (Path f : failures) {
            cmd.add(f.toString());
        }
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectErrorStream(true);
        return pb.start();
    }

    static void awaitReady(Process p) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        StringBuilder seen = new StringBuilder();
        String line;
        while ((line = in.readLine()) != null) {
            if (line.equals("READY")) {
                // Keep draining so the child never blocks on a full pipe.
                Thread.ofVirtual().start(() -> {
                    try {
                        in.transferTo(java.io.Writer.nullWriter());
                    } catch (java.io.IOException ignored) {
                        // the child was killed
                    }
                });
                return;
            }
            seen.append(line).append('\n');
        }
        fail("child exited before READY:\n" + seen);
    }
}
