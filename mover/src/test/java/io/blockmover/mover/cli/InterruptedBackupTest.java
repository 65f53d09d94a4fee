package io.blockmover.mover.cli;

import io.blockmover.index.maintenance.GarbageCollector;
import io.blockmover.index.maintenance.GcOptions;
import io.blockmover.index.maintenance.GcReport;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real {@code blockmover backup} process stopped by SIGTERM (what Ctrl-C and a service
 * manager's stop do through the JVM's shutdown) in the middle of reading: nothing is recorded,
 * the repository verifies, and gc reclaims what the stopped backup had stored.
 */
class InterruptedBackupTest {

    @TempDir
    Path dir;

    @Test
    void aBackupStoppedMidwayLeavesNothingVisibleAndGcReclaimsItsData() throws Exception {
        Path repo = dir.resolve("repo");
        Repository.init(repo, InitOptions.defaults()).close();
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(
                new HostSpec(3, 1, 1, 1L << 30, Profile.RANDOM, true)))) {
            // 4096 reads of 256 KiB, 64 at a time, 50 ms each: at least 3 s of reading.
            sim.faults().latency(Duration.ofMillis(50));
            sim.host().requireVm("vm01").createSnapshot("s1");
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process backup = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), Main.class.getName(), "backup",
                    "--repo", repo.toString(), "--no-progress",
                    "--source", "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/vm01/disk-2000@s1")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("backup.log").toFile()).start();
            try {
                waitForPackData(repo, backup);
                backup.destroy(); // SIGTERM
                assertTrue(backup.waitFor(60, TimeUnit.SECONDS), "the backup process stops");
            } finally {
                backup.destroyForcibly();
            }
            String log = Files.readString(dir.resolve("backup.log"));
            assertTrue(log.contains("interrupted; stopping cleanly"), log);
            assertTrue(!log.contains("committed"), "it did not finish first: " + log);
        }

        try (Repository r = Repository.open(repo, null)) {
            assertEquals(List.of(), r.backups(), "nothing of the stopped backup is visible");
        }
        assertEquals(0, Main.execute("verify", "--repo", repo.toString(), "--all", "--no-progress"));
        try (Repository r = Repository.open(repo, null)) {
            GcReport gc = new GarbageCollector(r).run(GcOptions.defaults().withGrace(Duration.ZERO));
            assertTrue(gc.deletedPacks() > 0 && gc.freedBytes() > 0, "gc reclaims the sealed packs the stopped backup left: " + gc);
            assertEquals(0, gc.packBytesAfter(), "no backup, so no pack data remains: " + gc);
        }
    }

    /**
     * Waits until the child has stored more than a pack's worth (64 MiB) per storing thread, so the
     * signal lands mid-backup with sealed packs behind it (an unsealed pack the abort removes itself):
     * each thread that stores at the same moment fills a pack of its own.
     */
    private static void waitForPackData(Path repo, Process backup) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline && backup.isAlive()) {
            // Only packs/: RocksDB deletes its own files under index/ while the walk runs.
            try (var files = Files.walk(repo.resolve("packs"))) {
                long bytes = files.filter(Files::isRegularFile)
                        .mapToLong(p -> p.toFile().length()).sum();
                if (bytes > (long) PipelineSettings.DEFAULT.workers() * (64 << 20) + (16 << 20)) {
                    return;
                }
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the backup stored no chunk data (alive: " + backup.isAlive() + ")");
    }
}
