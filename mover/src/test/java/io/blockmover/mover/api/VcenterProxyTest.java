package io.blockmover.mover.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.api.store.StoredJob;
import io.blockmover.mover.api.v1.BackupMode;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.BackupResult;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.api.v1.Job;
import io.blockmover.mover.api.v1.JobPhase;
import io.blockmover.mover.api.v1.JobRef;
import io.blockmover.mover.api.v1.JobState;
import io.blockmover.mover.api.v1.ListBackupsRequest;
import io.blockmover.mover.api.v1.RestoreRequest;
import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.mover.vsphere.BusyRetry;
import io.blockmover.mover.vsphere.NbdSnapshotTransport;
import io.blockmover.mover.vsphere.TrustPolicy;
import io.blockmover.mover.vsphere.VcenterConnection;
import io.blockmover.mover.vsphere.VcenterEndpoint;
import io.blockmover.mover.vsphere.VsphereControl;
import io.blockmover.nbd.esx.DiskContent;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.VirtualDisk;
import io.blockmover.nbd.esx.VirtualMachine;
import io.blockmover.nbd.esx.sdk.SdkOptions;
import io.blockmover.nbd.esx.sdk.SdkServer;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A scheduler backs up a VM it names by a selector, through a proxy started with a vCenter
 * (the emulated host's SDK): the proxy finds the VM, snapshots it, reads it, commits and removes
 * the snapshot, all as one job a grpc-java client follows, cancels, and restores from.
 */
class VcenterProxyTest {
    private static final long DISK = 16L << 20;

    @TempDir
    Path dir;

    @Test
    void backsUpAVmBySelectorAndACancelLeavesNoSnapshotAndNoBackup() throws Exception {
        // vm01 and vm02: a persistent disk, a physical RDM and an independent disk each.
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(5, 2, 3, DISK, Profile.MIXED, true, 1, 1))
                .withSdk(SdkOptions.defaults(new InetSocketAddress("127.0.0.1", 0))));
             Repository repo = Repository.init(dir.resolve("repo"), InitOptions.defaults().withChunkSize(256 << 10))) {
            SdkServer sdk = sim.sdk().orElseThrow();
            VirtualMachine vm = sim.host().requireVm("vm01");
            try (VcenterConnection vc = VcenterConnection.open(new VcenterEndpoint(URI.create(sdk.url()), SdkOptions.DEFAULT_USER,
                         SdkOptions.DEFAULT_PASSWORD, TrustPolicy.Thumbprint.parse(sdk.sha256Thumbprint())));
                 ProxyService service = new ProxyService(repo, new PipelineSettings(16, 2, 2), NbdAccess.DEFAULT,
                         new JobLimits(2, 16, 8, 10), Optional.of(dir), dir.resolve("jobs"), ProxyService.SnapshotRemover.NONE,
                         io.blockmover.mover.transport.vddk.VddkSettings.defaults(), Optional.empty(), SourcePolicy.NOTHING,
                         Optional.of(new VcenterBackups(new VsphereControl(vc, new BusyRetry(3, Duration.ofMillis(20))),
                                 new NbdSnapshotTransport("nbd://127.0.0.1:" + sim.nbdAddress().getPort()
                                         + "/{vm}/disk-{key}@{snapshot}", NbdAccess.DEFAULT), "test-proxy")));
                 ProxyService plain = new ProxyService(repo, PipelineSettings.DEFAULT, NbdAccess.DEFAULT, new JobLimits(1, 4, 4, 4),
                         Optional.empty(), dir.resolve("plain-jobs"), ProxyService.SnapshotRemover.NONE, SourcePolicy.NOTHING);
                 ProxyServer server = ProxyServer.start(new InetSocketAddress("127.0.0.1", 0), service, Optional.empty(), Credentials.none());
                 ProxyServer plainServer = ProxyServer.start(new InetSocketAddress("127.0.0.1", 0), plain, Optional.empty(), Credentials.none())) {
                ManagedChannel channel = NettyChannelBuilder.forAddress(server.address()).usePlaintext().build();
                ManagedChannel plainChannel = NettyChannelBuilder.forAddress(plainServer.address()).usePlaintext().build();
                try {
                    var proxy = BackupProxyGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);

                    // Refusals at Submit, each with the status a scheduler acts on.
                    assertEquals(Status.Code.FAILED_PRECONDITION, refusal(BackupProxyGrpc.newBlockingStub(plainChannel), bySelector("name:vm01")));
                    assertEquals(Status.Code.INVALID_ARGUMENT, refusal(proxy, bySelector("vm01")));
                    assertEquals(Status.Code.NOT_FOUND, refusal(proxy, bySelector("name:nope")));
                    assertEquals(Status.Code.INVALID_ARGUMENT, refusal(proxy, bySelector("name:vm01").toBuilder()
                            .addDisks(DiskSource.newBuilder().setDisk("disk-2000").setUri("nbd://127.0.0.1:1/x")).build()));
                    assertEquals(Status.Code.INVALID_ARGUMENT, refusal(proxy, bySelector("name:vm01").toBuilder().setVm("vm02").build()));

                    // A full, then an incremental after the guest wrote, each restoring what the disk held.
                    VirtualDisk disk = vm.disk(2000).orElseThrow();
                    List<Job> full = watch(proxy, proxy.submitBackup(bySelector("name:vm01")).getId());
                    Job fullEnd = full.getLast();
                    assertEquals(JobState.JOB_STATE_SUCCEEDED, fullEnd.getState(), fullEnd.toString());
                    assertEquals("vm01", fullEnd.getVm());
                    assertTrue(fullEnd.getWarningsList().stream().anyMatch(w -> w.contains("independent_persistent")), fullEnd.toString());
                    BackupResult first = fullEnd.getBackup();
                    assertTrue(first.getWarningsList().stream().anyMatch(w -> w.contains("independent_persistent")), first.toString());
                    assertTrue(first.getSnapshotRemoved(), first.toString());
                    assertEquals(1, first.getDisksCount());
                    assertFalse(first.getDisks(0).getIncremental());
                    assertTrue(vm.snapshots().isEmpty(), "the automatic policy removed the snapshot");
                    assertEquals(DiskContent.sha256Of(disk::read, disk.capacity()), restoredSha(proxy, first.getBackupId()));

                    byte[] guestWrite = new byte[64 << 10];
                    java.util.Arrays.fill(guestWrite, (byte) 0x5a);
                    disk.write(3L << 20, Unpooled.wrappedBuffer(guestWrite));
                    List<Job> incremental = watch(proxy, proxy.submitBackup(bySelector("uuid:" + vm.identity().uuid())).getId());
                    BackupResult second = incremental.getLast().getBackup();
                    assertEquals(JobState.JOB_STATE_SUCCEEDED, incremental.getLast().getState(), incremental.getLast().toString());
                    assertTrue(second.getDisks(0).getIncremental(), second.toString());
                    assertEquals(first.getBackupId(), second.getParentId());
                    assertTrue(second.getDisks(0).getReadBytes() < DISK / 4, "an incremental reads the changes only: " + second);
                    assertEquals(DiskContent.sha256Of(disk::read, disk.capacity()), restoredSha(proxy, second.getBackupId()));
                    List<JobPhase> phases = new ArrayList<>();
                    full.forEach(j -> { if (phases.isEmpty() || phases.getLast() != j.getPhase()) phases.add(j.getPhase()); });
                    assertTrue(phases.contains(JobPhase.JOB_PHASE_READ), phases.toString());

                    // A slow backup, cancelled while it reads: its snapshot is recorded, then removed; no backup appears.
                    sim.faults().rateLimit(2L << 20);
                    String id = proxy.submitBackup(bySelector("name:vm01").toBuilder().setMode(BackupMode.BACKUP_MODE_FULL).build()).getId();
                    assertEquals(Status.Code.ALREADY_EXISTS, refusal(proxy, bySelector("moref:" + vm.identity().moref())),
                            "one backup of a VM at a time, whichever selector names it");
                    Iterator<Job> stream = proxy.watchJob(JobRef.newBuilder().setId(id).build());
                    Job reading = stream.next();
                    while (reading.getDoneBytes() == 0) {
                        reading = stream.next();
                    }
                    assertEquals(JobPhase.JOB_PHASE_READ, reading.getPhase());
                    assertEquals(1, vm.snapshots().size());
                    StoredJob stored;
                    try (InputStream in = Files.newInputStream(dir.resolve("jobs").resolve(id + ".job"))) {
                        stored = StoredJob.parseFrom(in);
                    }
                    assertEquals(vm.snapshots().getFirst().name(), stored.getSnapshots(0).getName(), "a restart would remove it");
                    assertEquals("vm01", stored.getSnapshots(0).getVm());
                    proxy.cancelJob(JobRef.newBuilder().setId(id).build());
                    Job last = reading;
                    while (stream.hasNext()) {
                        last = stream.next();
                    }
                    assertEquals(JobState.JOB_STATE_CANCELLED, last.getState(), last.toString());
                    assertTrue(vm.snapshots().isEmpty(), "cancelling removed the snapshot");
                    try (InputStream in = Files.newInputStream(dir.resolve("jobs").resolve(id + ".job"))) {
                        assertEquals(0, StoredJob.parseFrom(in).getSnapshotsCount());
                    }
                    assertEquals(List.of(first.getBackupId(), second.getBackupId()), proxy.listBackups(ListBackupsRequest.getDefaultInstance())
                            .getBackupsList().stream().map(b -> b.getBackupId()).toList(), "nothing of the cancelled job is visible");
                } finally {
                    sim.faults().clear();
                    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                    plainChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                }
            }
        }
    }

    private static BackupRequest bySelector(String selector) {
        return BackupRequest.newBuilder().setVmSelector(selector).setMode(BackupMode.BACKUP_MODE_AUTO).build();
    }

    private static Status.Code refusal(BackupProxyGrpc.BackupProxyBlockingStub stub, BackupRequest request) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub.submitBackup(request));
        assertFalse(e.getStatus().getDescription() == null || e.getStatus().getDescription().isBlank(), "a clear message");
        return e.getStatus().getCode();
    }

    private static List<Job> watch(BackupProxyGrpc.BackupProxyBlockingStub stub, String id) {
        List<Job> seen = new ArrayList<>();
        stub.watchJob(JobRef.newBuilder().setId(id).build()).forEachRemaining(seen::add);
        return seen;
    }

    private String restoredSha(BackupProxyGrpc.BackupProxyBlockingStub stub, long backupId) throws Exception {
        Path target = dir.resolve("restore-" + backupId + ".raw");
        stub.restore(RestoreRequest.newBuilder().setBackupId(backupId).setDisk("disk-2000").setTarget(target.toString()).build())
                .forEachRemaining(e -> {});
        return io.blockmover.nbd.testing.Digests.sha256(target);
    }
}
