package io.blockmover.mover.api;

import io.blockmover.index.repo.GcFence;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.api.v1.BackupEvent;
import io.blockmover.mover.api.v1.BackupMode;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.BackupResult;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.api.v1.GcRequest;
import io.blockmover.mover.api.v1.GcResult;
import io.blockmover.mover.api.v1.PruneRequest;
import io.blockmover.mover.api.v1.RestoreEvent;
import io.blockmover.mover.api.v1.RestoreRequest;
import io.blockmover.mover.api.v1.VerifyRequest;
import io.blockmover.mover.api.v1.VerifyResult;
import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.nbd.esx.DiskContent;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.blockmover.nbd.esx.VirtualMachine;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static io.blockmover.nbd.testing.Digests.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * gc in the proxy runs beside the backup schedule: a Backup and a Restore call made while a
 * CollectGarbage call is in progress run to their end, over real gRPC from the emulated host.
 * gc is held at a known point by its phase observer, not by timing.
 */
class ProxyGcTest {
    private static final long DISK = 32L << 20;
    private static final int CHUNK = 256 << 10;
    /** Bounds waits for other threads so a regression fails instead of hanging; nothing is timed. */
    private static final long BOUND_SECONDS = 60;

    @TempDir
    Path dir;

    private EsxSimulator sim;
    private VirtualMachine vm;
    private Repository repo;
    private ProxyServer server;
    private ManagedChannel channel;
    private BackupProxyGrpc.BackupProxyBlockingStub proxy;

    @BeforeEach
    void start() throws Exception {
        sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(11, 1, 1, DISK, Profile.MIXED, true)));
        vm = sim.host().requireVm("vm01");
        repo = Repository.init(dir.resolve("repo"), InitOptions.defaults().withChunkSize(CHUNK));
        ProxyService service = new ProxyService(repo, new PipelineSettings(16, 2, 2), NbdAccess.DEFAULT, 2, Optional.of(dir));
        server = ProxyServer.start(new InetSocketAddress("127.0.0.1", 0), service, Optional.empty());
        channel = NettyChannelBuilder.forAddress(server.address()).usePlaintext().build();
        proxy = BackupProxyGrpc.newBlockingStub(channel);
    }

    @AfterEach
    void stop() throws Exception {
        repo.context().fence().observeGc(null);
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.close();
        repo.close();
        sim.close();
    }

    private BackupProxyGrpc.BackupProxyBlockingStub bounded() {
        return proxy.withDeadlineAfter(BOUND_SECONDS, TimeUnit.SECONDS);
    }

    private String export(Snapshot s) {
        return "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/vm01/disk-2000@" + s.name();
    }

    private BackupResult backup(Snapshot s, BackupMode mode) {
        BackupRequest request = BackupRequest.newBuilder().setVm("vm01").setMode(mode).addDisks(DiskSource.newBuilder()
                .setDisk("disk-2000").setUri(export(s)).setChangeId(s.disks().getFirst().changeId().orElseThrow().toString())).build();
        List<BackupEvent> events = new ArrayList<>();
        bounded().backup(request).forEachRemaining(events::add);
        assertTrue(events.getLast().hasResult(), events.toString());
        return events.getLast().getResult();
    }

    @Test
    void backupsAndRestoresStartedWhileGcRunsAreNotBlockedByIt() throws Exception {
        backup(vm.createSnapshot("s1"), BackupMode.BACKUP_MODE_FULL);
        sim.workload().writeGrains(40);
        Snapshot s2 = vm.createSnapshot("s2");
        backup(s2, BackupMode.BACKUP_MODE_INCREMENTAL);
        assertEquals(List.of(1L), bounded().prune(PruneRequest.newBuilder().setKeepLast(1).build()).getRemovedList());

        CountDownLatch gcRunning = new CountDownLatch(1);
        CountDownLatch othersDone = new CountDownLatch(1);
        repo.context().fence().observeGc(phase -> {
            if (phase == GcFence.Phase.CONDEMNED) {
                gcRunning.countDown();
                try {
                    othersDone.await(BOUND_SECONDS, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        CompletableFuture<GcResult> gc = CompletableFuture.supplyAsync(
                () -> bounded().collectGarbage(GcRequest.newBuilder().setGraceSeconds(0).setCompactBelow(1.0).build()));
        assertTrue(gcRunning.await(BOUND_SECONDS, TimeUnit.SECONDS), "gc never condemned anything");

        // gc is stopped mid-run (it has condemned the pruned backup's chunks): a backup and a restore still go through.
        sim.workload().writeGrains(10);
        Snapshot s3 = vm.createSnapshot("s3");
        BackupResult during = backup(s3, BackupMode.BACKUP_MODE_FULL);
        Path restored = dir.resolve("restored.raw");
        List<RestoreEvent> events = new ArrayList<>();
        bounded().restore(RestoreRequest.newBuilder().setBackupId(2).setTarget(restored.toString()).build()).forEachRemaining(events::add);
        assertEquals(2, events.getLast().getResult().getBackupId());
        assertFalse(gc.isDone(), "gc was held all along");
        othersDone.countDown();

        GcResult r = gc.get(BOUND_SECONDS, TimeUnit.SECONDS);
        assertTrue(r.getDeletedChunkEntries() > 0, "the chunks only the pruned full used are gone: " + r);
        assertEquals(0, r.getDeferredPacks(), "the restore made during gc ended before gc deleted packs");
        SnapshotDisk d2 = s2.disks().getFirst();
        assertEquals(DiskContent.sha256Of(d2::read, d2.capacity()), sha256(restored));
        VerifyResult exact = bounded().verify(VerifyRequest.newBuilder().setBackupId(during.getBackupId()).setAgainstUri(export(s3)).build());
        assertTrue(exact.getOk(), "the backup written during gc is exact: " + exact);
        assertTrue(bounded().verify(VerifyRequest.newBuilder().setBackupId(2).build()).getOk());
    }
}
