package io.blockmover.mover.cli;

import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.api.v1.BackupEvent;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real {@code blockmover serve} process stopped by SIGTERM (a service manager's stop) while a
 * backup runs: the scheduler's call ends with a status that says why, the process exits cleanly,
 * and the repository is unlocked, holds nothing of the stopped backup, and verifies.
 */
class ServeCommandTest {

    @TempDir
    Path dir;

    @Test
    void sigtermCancelsTheRunningBackupAndReleasesTheRepository() throws Exception {
        Path repo = dir.resolve("repo");
        Repository.init(repo, InitOptions.defaults()).close();
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(
                new HostSpec(3, 1, 1, 1L << 30, Profile.RANDOM, true)))) {
            sim.faults().latency(Duration.ofMillis(50)); // seconds of reading: the signal lands mid-backup
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process proxy = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), Main.class.getName(), "serve", "--no-auth",
                    "--repo", repo.toString(), "--listen", "127.0.0.1:0", "--allow-source", "127.0.0.1:*")
                    .redirectErrorStream(true).start();
            ManagedChannel channel = null;
            try {
                int port = KillHarness.awaitReady(proxy);
                channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
                Iterator<BackupEvent> events = BackupProxyGrpc.newBlockingStub(channel).withDeadlineAfter(2, TimeUnit.MINUTES)
                        .backup(BackupRequest.newBuilder().setVm("vm01").addDisks(DiskSource.newBuilder().setDisk("disk-2000")
                                .setUri("nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/vm01/disk-2000")).build());
                assertTrue(events.next().hasProgress(), "the backup is running and reporting");
                proxy.destroy(); // SIGTERM
                StatusRuntimeException ended = assertThrows(StatusRuntimeException.class, () -> events.forEachRemaining(e -> { }));
                assertEquals(io.grpc.Status.Code.CANCELLED, ended.getStatus().getCode(), ended.getStatus().toString());
                assertTrue(ended.getStatus().getDescription().contains("shutting down"), ended.getStatus().toString());
                assertTrue(proxy.waitFor(60, TimeUnit.SECONDS), "the proxy exits");
                assertEquals(128 + 15, proxy.exitValue(), "a JVM stopped by SIGTERM after its shutdown hooks ran");
            } finally {
                if (channel != null) {
                    channel.shutdownNow();
                }
                proxy.destroyForcibly();
            }
        }
        try (Repository r = Repository.open(repo, null)) {
            assertEquals(List.of(), r.backups(), "nothing of the stopped backup is visible");
        }
        assertEquals(0, Main.execute("verify", "--repo", repo.toString(), "--all", "--no-progress"));
    }
}
