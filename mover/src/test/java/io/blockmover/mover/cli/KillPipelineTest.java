package io.blockmover.mover.cli;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.api.v1.RestoreRequest;
import io.blockmover.nbd.esx.DiskContent;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static io.blockmover.mover.cli.KillHarness.Window;
import static io.blockmover.mover.cli.KillHarness.awaitReady;
import static io.blockmover.mover.cli.KillHarness.bytesUnder;
import static io.blockmover.mover.cli.KillHarness.command;
import static io.blockmover.mover.cli.KillHarness.committed;
import static io.blockmover.mover.cli.KillHarness.filesIn;
import static io.blockmover.mover.cli.KillHarness.verifyNewest;
import static io.blockmover.nbd.testing.Digests.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SIGKILL of the real pipeline at random points: the {@code blockmover backup} and
 * {@code blockmover restore} processes reading from the emulated host over NBD, and the proxy
 * ({@code blockmover serve}) while it runs a job. A kill runs no shutdown hook and no finally:
 * what survives is what was durable. After each: no partial backup is visible, the newest backups
 * verify, no restored file with wrong contents sits at the final name, and the next run succeeds.
 * <p>{@code BM_KILL_POINTS} points in all (default 20, {@code make torture} 200), two fifths each
 * for backups and restores, one fifth for the proxy; {@code BM_KILL_SEED} repeats a run.
 */
class KillPipelineTest {
    private static final long DISK = 32L << 20;

    @TempDir
    Path dir;

    @Test
    void sigkillAtRandomPointsLosesNothingAndLeavesNothingWrong() throws Exception {
        int points = KillHarness.points();
        long seed = KillHarness.seed();
        KillHarness harness = new KillHarness(dir);
        Random random = new Random(seed);
        String why = "seed " + seed + " (BM_KILL_SEED)";
        Path repo = dir.resolve("repo");
        Repository.init(repo, InitOptions.defaults().withChunkSize(256 << 10)).close();
        int backups = points * 2 / 5;
        int restores = points * 2 / 5;
        int proxies = points - backups - restores;
        // A VM of its own for each killed backup: the same data again would all deduplicate, and
        // a kill after the backup began storing would leave nothing to see.
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(
                new HostSpec(13, backups + 1, 1, DISK, Profile.RANDOM, true)))) {
            Snapshot snap = sim.host().requireVm("vm01").createSnapshot("s1");
            SnapshotDisk disk = snap.disks().getFirst();
            String expected = DiskContent.sha256Of(disk::read, disk.capacity());
            String source = "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/vm01/disk-2000@s1";
            List<String> backup = List.of("backup", "--repo", repo.toString(), "--no-progress", "--full", "--source", source);
            Path restored = dir.resolve("restored.raw");
            List<String> restore = List.of("restore", "--repo", repo.toString(), "--backup", "1", "--to", restored.toString(), "--force");

            // One uncut run of each measures how long a kill may come after the start.
            long backupMillis = harness.timed(backup);
            long restoreMillis = harness.timed(restore);
            assertEquals(expected, sha256(restored));
            Files.delete(restored);

            Window backupWindow = new Window(backupMillis);
            Window restoreWindow = new Window(restoreMillis);
            int backupsCut = 0;
            int backupsMidWrite = 0;
            int restoresCut = 0;
            int restoresMidWrite = 0;
            for (int i = 0; i < backups; i++) {
                String vm = String.format("vm%02d", i + 2);
                sim.host().requireVm(vm).createSnapshot("s1");
                List<String> fresh = List.of("backup", "--repo", repo.toString(), "--no-progress", "--full", "--source",
                        "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/" + vm + "/disk-2000@s1");
                int before = committed(repo).size();
                long packBytes = bytesUnder(repo.resolve("packs"));
                long at = backupWindow.next(random);
                harness.killAt(fresh, at);
                // Measured before the repository is opened again: opening may clear what the killed process left.
                boolean stored = bytesUnder(repo.resolve("packs")) > packBytes || filesIn(repo.resolve("tmp")) > 0;
                List<BackupRecord> after = committed(repo);
                assertTrue(after.size() == before || after.size() == before + 1, why);
                backupsCut += after.size() == before ? 1 : 0;
                backupsMidWrite += after.size() == before && stored ? 1 : 0;
                backupWindow.landed(at, !stored, after.size() > before);
                verifyNewest(repo, after.size() - before + 1, why + ", backup killed at " + at + " ms");
                assertEquals(0, Main.execute(fresh.toArray(String[]::new)), "the next backup succeeds: " + why);
            }
            for (int i = 0; i < restores; i++) {
                long at = restoreWindow.next(random);
                harness.killAt(restore, at);
                boolean writing = Files.exists(Path.of(restored + ".partial"));
                restoresMidWrite += writing ? 1 : 0;
                restoreWindow.landed(at, !writing && !Files.exists(restored), Files.exists(restored));
                if (Files.exists(restored)) {
                    assertEquals(expected, sha256(restored), "a file at the final name is the whole restore: " + why + ", at " + at + " ms");
                    Files.delete(restored);
                } else {
                    restoresCut++;
                }
                assertEquals(0, Main.execute(restore.stream().filter(a -> !a.equals("--force")).toArray(String[]::new)),
                        "the next restore succeeds without --force: " + why);
                assertEquals(expected, sha256(restored), why);
                Files.delete(restored);
            }
            Path restoreDir = Files.createDirectories(dir.resolve("proxy-restores"));
            for (int i = 0; i < proxies; i++) {
                killProxyDuringJob(repo, restoreDir, source, i % 2 == 0, random, why);
                Path file = restoreDir.resolve("p.raw");
                if (Files.exists(file)) {
                    assertEquals(expected, sha256(file), "a file the proxy restored is whole: " + why);
                    Files.delete(file);
                }
                verifyNewest(repo, 2, why + ", proxy killed");
            }
            // Where the kills landed, so a run whose kills all missed the work is visible.
            System.out.printf("kill points (%s): %d backups, %d cut before their commit (%d after they began storing); %d restores, "
                    + "%d cut before the rename (%d while writing); %d proxy jobs; uncut backup %d ms, restore %d ms%n", why, backups,
                    backupsCut, backupsMidWrite, restores, restoresCut, restoresMidWrite, proxies, backupMillis, restoreMillis);
            assertTrue(backups == 0 || backupsMidWrite > 0, "some backup kill landed after it began storing, before the commit: " + why);
            assertTrue(restores == 0 || restoresMidWrite > 0, "some restore kill landed while the image was written: " + why);
        }
    }

    /** Starts the proxy, starts a backup (or a restore) through it, and SIGKILLs the proxy while the job runs. */
    private void killProxyDuringJob(Path repo, Path restoreDir, String source, boolean backup, Random random, String why)
            throws Exception {
        Process proxy = new ProcessBuilder(command(List.of("serve", "--no-auth", "--repo", repo.toString(), "--listen", "127.0.0.1:0",
                "--allow-source", "127.0.0.1:*", "--restore-dir", restoreDir.toString()))).redirectErrorStream(true).start();
        ManagedChannel channel = null;
        try {
            int port = awaitReady(proxy);
            channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
            var stub = BackupProxyGrpc.newBlockingStub(channel).withDeadlineAfter(2, TimeUnit.MINUTES);
            var events = backup
                    ? stub.backup(BackupRequest.newBuilder().setVm("vm01").addDisks(DiskSource.newBuilder().setDisk("disk-2000")
                            .setUri(source)).build())
                    : stub.restore(RestoreRequest.newBuilder().setBackupId(1).setTarget("p.raw").setOverwrite(true).build());
            Thread.sleep(random.nextInt(1000));
            proxy.destroyForcibly();
            assertTrue(proxy.waitFor(60, TimeUnit.SECONDS), why);
            try {
                events.forEachRemaining(e -> { });
            } catch (io.grpc.StatusRuntimeException expected) {
                // the proxy died under the call, or the job ended first
            }
        } finally {
            if (channel != null) {
                channel.shutdownNow();
            }
            proxy.destroyForcibly();
            proxy.waitFor(60, TimeUnit.SECONDS);
        }
        assertEquals(0, Main.execute("backup", "--repo", repo.toString(), "--no-progress", "--source", source),
                "the next run succeeds: " + why);
    }
}
