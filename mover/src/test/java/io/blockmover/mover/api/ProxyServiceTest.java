package io.blockmover.mover.api;

import io.blockmover.index.repo.Repository;
import io.blockmover.mover.api.v1.BackupEvent;
import io.blockmover.mover.api.v1.BackupMode;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.BackupResult;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.api.v1.GcRequest;
import io.blockmover.mover.api.v1.GcResult;
import io.blockmover.mover.api.v1.ListBackupsRequest;
import io.blockmover.mover.api.v1.PruneRequest;
import io.blockmover.mover.api.v1.PruneResult;
import io.blockmover.mover.api.v1.RestoreEvent;
import io.blockmover.mover.api.v1.RestoreRequest;
import io.blockmover.mover.api.v1.RestoreResult;
import io.blockmover.mover.api.v1.StatsRequest;
import io.blockmover.mover.api.v1.StatsResult;
import io.blockmover.mover.api.v1.VerifyRequest;
import io.blockmover.mover.api.v1.VerifyResult;
import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.nbd.esx.DiskContent;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.blockmover.nbd.esx.VirtualMachine;
import io.blockmover.nbd.testing.TestCertificates;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.buffer.Unpooled;
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
import java.util.concurrent.TimeUnit;

import static io.blockmover.nbd.testing.Digests.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The proxy as a scheduler sees it: real gRPC over loopback, real NBD from the emulated host, a real repository. */
class ProxyServiceTest {
    @TempDir
    Path dir;

    private ProxyFixture fixture;
    private EsxSimulator sim;
    private VirtualMachine vm;
    private Repository repo;
    private ProxyService service;
    private ManagedChannel channel;
    private BackupProxyGrpc.BackupProxyBlockingStub proxy;

    @BeforeEach
    void start() throws Exception {
        fixture = new ProxyFixture(dir);
        sim = fixture.sim;
        vm = fixture.vm;
        repo = fixture.repo;
        service = fixture.service;
        channel = fixture.channel;
        proxy = fixture.stub(60);
    }

    @AfterEach
    void stop() throws Exception {
        fixture.close();
    }

    private String export(Snapshot s) {
        return fixture.export(s);
    }

    private BackupRequest backupOf(Snapshot s, BackupMode mode) {
        return fixture.backupOf(s, mode);
    }

    private BackupResult backup(BackupRequest request) {
        return ProxyFixture.backup(proxy, request);
    }

    private BackupResult backupOnceTheVmIsFree(BackupRequest request) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                return backup(request);
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.ALREADY_EXISTS || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    @Test
    void fullIncrementalRestoreVerifyAndListOverGrpc() throws Exception {
        Snapshot s1 = vm.createSnapshot("s1");
        BackupResult full = backup(backupOf(s1, BackupMode.BACKUP_MODE_AUTO));
        assertEquals(1, full.getBackupId());
        assertFalse(full.getDisks(0).getIncremental());
        assertEquals("no earlier backup", full.getDisks(0).getFullBecause());

        sim.workload().writeGrains(12);
        Snapshot s2 = vm.createSnapshot("s2");
        BackupResult incr = backup(backupOf(s2, BackupMode.BACKUP_MODE_AUTO));
        assertEquals(2, incr.getBackupId());
        assertEquals(1, incr.getParentId());
        assertTrue(incr.getDisks(0).getIncremental());
        // Exactly which chunks is BackupPipelineTest's to prove; here: only the changed few, through the API.
        assertTrue(incr.getDisks(0).getReadBytes() > 0 && incr.getDisks(0).getReadBytes() < full.getDisks(0).getReadBytes() / 4,
                incr.getDisks(0).getReadBytes() + " read, against " + full.getDisks(0).getReadBytes() + " by the full");

        Path restored = dir.resolve("restored.raw");
        List<RestoreEvent> events = new ArrayList<>();
        proxy.restore(RestoreRequest.newBuilder().setVm("vm01").setTarget(restored.toString()).build()).forEachRemaining(events::add);
        RestoreResult r = events.getLast().getResult();
        assertEquals(2, r.getBackupId());
        SnapshotDisk d = s2.disks().getFirst();
        assertEquals(DiskContent.sha256Of(d::read, d.capacity()), sha256(restored));

        VerifyResult reread = proxy.verify(VerifyRequest.newBuilder().setBackupId(2).build());
        assertTrue(reread.getOk() && reread.getChunksChecked() > 0, reread.toString());
        VerifyResult against = proxy.verify(VerifyRequest.newBuilder().setBackupId(2).setAgainstUri(export(s2)).build());
        assertTrue(against.getOk(), against.toString());

        assertEquals(List.of(1L, 2L), proxy.listBackups(ListBackupsRequest.newBuilder().setVm("vm01").build()).getBackupsList()
                .stream().map(b -> b.getBackupId()).toList());
    }

    @Test
    void maintenanceRunsThroughTheProxyThatHoldsTheRepository() {
        Snapshot s1 = vm.createSnapshot("s1");
        backup(backupOf(s1, BackupMode.BACKUP_MODE_FULL));
        sim.workload().writeGrains(40);
        Snapshot s2 = vm.createSnapshot("s2");
        backup(backupOf(s2, BackupMode.BACKUP_MODE_INCREMENTAL));
        StatsResult before = proxy.stats(StatsRequest.getDefaultInstance());
        assertEquals(2, before.getBackups());

        PruneResult dry = proxy.prune(PruneRequest.newBuilder().setKeepLast(1).setDryRun(true).build());
        assertEquals(List.of(1L), dry.getRemovedList());
        assertEquals(2, proxy.listBackups(ListBackupsRequest.getDefaultInstance()).getBackupsCount(), "a dry run removes nothing");
        PruneResult pruned = proxy.prune(PruneRequest.newBuilder().setKeepLast(1).build());
        assertEquals(List.of(1L), pruned.getRemovedList());
        assertEquals(List.of(2L), pruned.getKeptList());

        GcResult gc = proxy.collectGarbage(GcRequest.newBuilder().setGraceSeconds(0).build());
        assertTrue(gc.getDeletedChunkEntries() > 0, "the chunks only the pruned full used are gone: " + gc);
        StatsResult after = proxy.stats(StatsRequest.getDefaultInstance());
        assertEquals(1, after.getBackups());
        assertTrue(after.getStoredBytes() < before.getStoredBytes(), before + " -> " + after);
        assertTrue(proxy.verify(VerifyRequest.newBuilder().setBackupId(2).setAgainstUri(export(s2)).build()).getOk(),
                "the kept backup is still exact");

        StatusRuntimeException keepNothing = assertThrows(StatusRuntimeException.class,
                () -> proxy.prune(PruneRequest.getDefaultInstance()));
        assertEquals(Status.Code.INVALID_ARGUMENT, keepNothing.getStatus().getCode(), keepNothing.getStatus().toString());
    }

    @Test
    void verifyAgainstTheSourceReportsAWriteTrackingMissed() {
        Snapshot s1 = vm.createSnapshot("s1");
        backup(backupOf(s1, BackupMode.BACKUP_MODE_FULL));
        vm.disks().getFirst().writeUntracked(3L << 20, Unpooled.wrappedBuffer(new byte[65536]).setByte(9, 1));
        Snapshot s2 = vm.createSnapshot("s2");
        backup(backupOf(s2, BackupMode.BACKUP_MODE_INCREMENTAL));
        VerifyResult v = proxy.verify(VerifyRequest.newBuilder().setBackupId(2).setAgainstUri(export(s2)).build());
        assertFalse(v.getOk());
        assertEquals(3L << 20, v.getProblems(0).getOffset());
    }

    @Test
    void badRequestsGetStatusesASchedulerCanActOn() throws Exception {
        StatusRuntimeException noVm = assertThrows(StatusRuntimeException.class,
                () -> backup(BackupRequest.newBuilder().addDisks(DiskSource.newBuilder().setDisk("d").setUri("nbd://x/y")).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, noVm.getStatus().getCode());

        StatusRuntimeException unreachable = assertThrows(StatusRuntimeException.class, () -> backup(BackupRequest.newBuilder()
                .setVm("vm01").addDisks(DiskSource.newBuilder().setDisk("disk-2000").setUri("nbd://127.0.0.1:1/vm01/disk-2000")).build()));
        assertEquals(Status.Code.UNAVAILABLE, unreachable.getStatus().getCode());
        assertTrue(unreachable.getStatus().getDescription().contains("127.0.0.1:1"), unreachable.getStatus().getDescription());

        StatusRuntimeException noIncremental = assertThrows(StatusRuntimeException.class,
                () -> backup(backupOf(vm.createSnapshot("s1"), BackupMode.BACKUP_MODE_INCREMENTAL)));
        assertTrue(noIncremental.getStatus().getDescription().contains("run a full backup first"), noIncremental.getStatus().toString());
        assertEquals(Status.Code.FAILED_PRECONDITION, noIncremental.getStatus().getCode(), "a retry would not help");

        StatusRuntimeException missing = assertThrows(StatusRuntimeException.class, () -> proxy.restore(RestoreRequest.newBuilder()
                .setBackupId(99).setTarget(dir.resolve("x.raw").toString()).build()).forEachRemaining(e -> { }));
        assertEquals(Status.Code.NOT_FOUND, missing.getStatus().getCode());

        backup(backupOf(vm.createSnapshot("s2"), BackupMode.BACKUP_MODE_FULL));
        java.nio.file.Files.createSymbolicLink(dir.resolve("escape"), Path.of("/tmp"));
        for (String outside : List.of("/etc/blockmover-test.raw", "../x.raw", "escape/x.raw")) {
            StatusRuntimeException denied = assertThrows(StatusRuntimeException.class, () -> proxy.restore(RestoreRequest.newBuilder()
                    .setVm("vm01").setTarget(outside).build()).forEachRemaining(e -> { }));
            assertEquals(Status.Code.PERMISSION_DENIED, denied.getStatus().getCode(), outside + ": " + denied.getStatus());
        }
        assertFalse(java.nio.file.Files.exists(Path.of("/tmp/x.raw")) || java.nio.file.Files.exists(Path.of("/etc/blockmover-test.raw")));
        assertEquals(1, proxy.listBackups(ListBackupsRequest.getDefaultInstance()).getBackupsCount());
    }

    @Test
    void aCancelledCallStopsItsJobAndRecordsNothing() throws Exception {
        Snapshot s1 = vm.createSnapshot("s1");
        sim.faults().rateLimit(2L << 20); // seconds long: progress flows before the cancel
        CompletableFuture<Status> ended = new CompletableFuture<>();
        CompletableFuture<Void> progressed = new CompletableFuture<>();
        var call = io.grpc.Context.current().withCancellation();
        call.run(() -> BackupProxyGrpc.newStub(channel).backup(backupOf(s1, BackupMode.BACKUP_MODE_FULL), new StreamObserver<>() {
            @Override
            public void onNext(BackupEvent e) {
                if (e.hasProgress()) {
                    progressed.complete(null);
                }
            }

            @Override
            public void onError(Throwable t) {
                ended.complete(Status.fromThrowable(t));
            }

            @Override
            public void onCompleted() {
                ended.complete(Status.OK);
            }
        }));
        progressed.get(30, TimeUnit.SECONDS);
        StatusRuntimeException twice = assertThrows(StatusRuntimeException.class,
                () -> backup(backupOf(s1, BackupMode.BACKUP_MODE_FULL)));
        assertEquals(Status.Code.ALREADY_EXISTS, twice.getStatus().getCode(), "one backup of a VM at a time: " + twice.getStatus());
        call.cancel(null);
        assertEquals(Status.Code.CANCELLED, ended.get(30, TimeUnit.SECONDS).getCode());
        sim.faults().clear();
        // Nothing of the cancelled job is listed; once it has wound down (ALREADY_EXISTS until then), the next call runs normally.
        assertTrue(proxy.listBackups(ListBackupsRequest.getDefaultInstance()).getBackupsList().isEmpty());
        long id = backupOnceTheVmIsFree(backupOf(s1, BackupMode.BACKUP_MODE_FULL)).getBackupId();
        assertEquals(List.of(id), proxy.listBackups(ListBackupsRequest.getDefaultInstance()).getBackupsList().stream()
                .map(b -> b.getBackupId()).toList());
    }

    @Test
    void withMutualTlsOnlyClientsHoldingACertificateOfTheCaMayCall() throws Exception {
        backup(backupOf(vm.createSnapshot("s1"), BackupMode.BACKUP_MODE_FULL));
        TestCertificates pki = TestCertificates.create(dir.resolve("pki"));
        try (ProxyServer tls = ProxyServer.start(new InetSocketAddress("127.0.0.1", 0),
                new ProxyService(repo, PipelineSettings.DEFAULT, NbdAccess.DEFAULT, new JobLimits(1, 4, 8, 10), Optional.empty(),
                        dir.resolve("tls-jobs"), ProxyService.SnapshotRemover.NONE, SourcePolicy.NOTHING),
                Optional.of(new ProxyServer.Tls(pki.serverCert(), pki.serverKey(), Optional.of(pki.caCert()))),
                Credentials.of(Optional.empty(), java.util.Map.of()))) {
            SslContextBuilder trusting = GrpcSslContexts.forClient().trustManager(pki.caCert().toFile());
            ManagedChannel trusted = NettyChannelBuilder.forAddress(tls.address())
                    .sslContext(trusting.keyManager(pki.clientCert().toFile(), pki.clientKey().toFile()).build()).build();
            try {
                var stub = BackupProxyGrpc.newBlockingStub(trusted).withDeadlineAfter(20, TimeUnit.SECONDS);
                assertEquals(1, stub.listBackups(ListBackupsRequest.getDefaultInstance()).getBackupsCount());
                StatusRuntimeException noFiles = assertThrows(StatusRuntimeException.class, () -> stub.restore(RestoreRequest
                        .newBuilder().setBackupId(1).setTarget("x.raw").build()).forEachRemaining(e -> { }));
                assertEquals(Status.Code.FAILED_PRECONDITION, noFiles.getStatus().getCode(), "no --restore-dir: " + noFiles.getStatus());
            } finally {
                trusted.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            StatusRuntimeException anonymous = assertThrows(StatusRuntimeException.class, () -> listOver(
                    NettyChannelBuilder.forAddress(tls.address()).sslContext(GrpcSslContexts.forClient()
                            .trustManager(pki.caCert().toFile()).build())));
            assertEquals(Status.Code.UNAVAILABLE, anonymous.getStatus().getCode());
            StatusRuntimeException plaintext = assertThrows(StatusRuntimeException.class,
                    () -> listOver(NettyChannelBuilder.forAddress(tls.address()).usePlaintext()));
            assertEquals(Status.Code.UNAVAILABLE, plaintext.getStatus().getCode());
        }
    }

    private static int listOver(NettyChannelBuilder builder) throws Exception {
        ManagedChannel ch = builder.build();
        try {
            return BackupProxyGrpc.newBlockingStub(ch).withDeadlineAfter(20, TimeUnit.SECONDS)
                    .listBackups(ListBackupsRequest.getDefaultInstance()).getBackupsCount();
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
