package io.blockmover.mover.vsphere;

import static io.blockmover.nbd.testing.Digests.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.pipeline.BackupJob;
import io.blockmover.mover.pipeline.Cancellation;
import io.blockmover.mover.pipeline.DiskRestore;
import io.blockmover.mover.pipeline.PipelineSettings;
import io.blockmover.mover.pipeline.TransferCounters;
import io.blockmover.mover.transport.file.FileDiskTarget;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.nbd.esx.DiskContent;
import io.blockmover.nbd.esx.EsxFaults;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.blockmover.nbd.esx.VirtualMachine;
import io.blockmover.nbd.esx.sdk.SdkOptions;
import io.blockmover.nbd.esx.sdk.SdkServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;

/**
 * The whole VMware flow through yavijava against the emulated host's vSphere API: login,
 * lookup, snapshot policies, changed areas, skipped disks, failures that leave nothing behind.
 */
class VsphereBackupTest {
    private static final long DISK = 128L << 20;
    private static final long PAGE = 32L << 20;
    private static final BusyRetry QUICK = new BusyRetry(3, Duration.ofMillis(20));

    @TempDir
    static Path dir;
    static EsxSimulator sim;
    static SdkServer sdk;

    @BeforeAll
    static void start() throws Exception {
        // vm01..vm03: 3 disks each: one persistent, one physical RDM, one independent.
        sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(7, 3, 3, DISK, Profile.MIXED, true, 1, 1))
                .withSdk(SdkOptions.defaults(new InetSocketAddress("127.0.0.1", 0)).withChangedAreasPage(PAGE)));
        sdk = sim.sdk().orElseThrow();
    }

    @AfterAll
    static void stop() {
        sim.close();
    }

    static VcenterEndpoint endpoint(String password, TrustPolicy trust) {
        return new VcenterEndpoint(URI.create(sdk.url()), SdkOptions.DEFAULT_USER, password, trust);
    }

    static VcenterConnection connect() throws Exception {
        return VcenterConnection.open(endpoint(SdkOptions.DEFAULT_PASSWORD, TrustPolicy.Thumbprint.parse(sdk.sha256Thumbprint())));
    }

    static String restoredSha(Repository repo, long backupId, String disk, Path target) throws Exception {
        var workers = Executors.newFixedThreadPool(2);
        try (var reader = repo.openBackup(backupId);
             FileDiskTarget t = FileDiskTarget.create(target, reader.disk(disk).capacity(),
                     io.blockmover.mover.transport.file.FileTargetOptions.DEFAULT.withOverwrite(true))) {
            new DiskRestore(reader.disk(disk), t, workers, 8, new TransferCounters(t.capacity()), new Cancellation()).run();
        } finally {
            workers.shutdown();
        }
        String sha = sha256(target);
        Files.delete(target);
        return sha;
    }

    VsphereBackup backup(VsphereControl control, Repository repo) {
        return new VsphereBackup(control, new NbdSnapshotTransport(
                "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/{vm}/disk-{key}@{snapshot}", NbdAccess.DEFAULT),
                repo, PipelineSettings.DEFAULT);
    }

    static VsphereBackup.Request automatic(String vm, BackupJob.Mode mode) {
        return new VsphereBackup.Request(VmSelector.parse("name:" + vm), mode, SnapshotPolicy.AUTOMATIC, Optional.empty(),
                VsphereBackup.Preexisting.FAIL, false, "test-proxy", "");
    }

    @Test
    void wrongPasswordAndWrongThumbprintAreRefusedInOneLine() {
        VsphereException login = assertThrows(VsphereException.class, () -> VcenterConnection.open(
                endpoint("wrong", TrustPolicy.Thumbprint.parse(sdk.sha256Thumbprint()))));
        assertTrue(login.getMessage().contains("incorrect user name or password"), login.getMessage());
        VsphereException pin = assertThrows(VsphereException.class, () -> VcenterConnection.open(
                endpoint(SdkOptions.DEFAULT_PASSWORD, TrustPolicy.Thumbprint.parse("00".repeat(32)))));
        assertTrue(pin.getMessage().contains("does not match --thumbprint"), pin.getMessage());
    }

    @Test
    void findsVmsInEveryModeAndRefusesNoneOrSeveral() throws Exception {
        VirtualMachine vm2 = sim.host().requireVm("vm02");
        try (VcenterConnection c = connect()) {
            VmInventory inv = new VmInventory(c);
            String moref = vm2.identity().moref();
            for (String s : List.of("name:vm02", "path:Datacenter/vm/vm02", "ip:" + vm2.guest().ipAddress(),
                    "dns:" + vm2.guest().hostName(), "uuid:" + vm2.identity().uuid(),
                    "instance-uuid:" + vm2.identity().instanceUuid(), "moref:" + moref)) {
                assertEquals(moref, VmSelector.parse(s).resolve(c, inv), s);
            }
            for (String s : List.of("name:nope", "path:Datacenter/vm/nope", "ip:10.9.9.9", "dns:nope.lab",
                    "uuid:00000000-0000-0000-0000-000000000000", "instance-uuid:00000000-0000-0000-0000-000000000000",
                    "moref:vm-999")) {
                VsphereException e = assertThrows(VsphereException.class, () -> VmSelector.parse(s).resolve(c, inv));
                assertEquals("no VM matches " + s, e.getMessage());
            }
            VirtualMachine vm3 = sim.host().requireVm("vm03");
            var before = vm3.guest();
            vm3.guest(new VirtualMachine.GuestInfo(vm2.guest().ipAddress(), vm2.guest().hostName()));
            try {
                for (String s : List.of("ip:" + vm2.guest().ipAddress(), "dns:" + vm2.guest().hostName())) {
                    VsphereException e = assertThrows(VsphereException.class, () -> VmSelector.parse(s).resolve(c, inv));
                    assertTrue(e.getMessage().startsWith("2 VMs match " + s), e.getMessage());
                }
            } finally {
                vm3.guest(before);
            }
            VmInfo info = inv.get(moref);
            assertEquals(3, info.disks().size());
            assertEquals(3, inv.list().size());
        }
    }

    @Test
    void fullThenIncrementalsRestoreExactlyWhileTheGuestWrites() throws Exception {
        Repository repo = Repository.init(dir.resolve("repo-inc"), InitOptions.defaults().withChunkSize(64 << 10));
        VirtualMachine vm = sim.host().requireVm("vm01");
        try (repo; VcenterConnection c = connect()) {
            VsphereControl control = new VsphereControl(c, QUICK);
            sim.workload().rate(8L << 20);
            try {
                long previous = -1;
                for (int i = 0; i < 3; i++) {
                    // createonly keeps the snapshot, so the test can compare the restore with what it froze.
                    VsphereBackup.Result r = backup(control, repo).run(new VsphereBackup.Request(VmSelector.parse("name:vm01"),
                            BackupJob.Mode.AUTO, SnapshotPolicy.CREATEONLY, Optional.empty(), VsphereBackup.Preexisting.FAIL,
                            false, "test-proxy", ""), new Cancellation(), (d, counters) -> {});
                    assertEquals(2, r.warnings().size(), r.warnings().toString());
                    assertTrue(r.warnings().stream().anyMatch(w -> w.contains("physical-mode RDM")));
                    assertTrue(r.warnings().stream().anyMatch(w -> w.contains("independent_persistent")));
                    assertEquals(1, r.backup().disks().size());
                    BackupJob.DiskOutcome d = r.backup().disks().getFirst();
                    assertEquals(i > 0, d.incremental(), d.why());
                    if (i == 0) {
                        // a full reads only what is allocated: the mixed profile's holes are skipped
                        assertTrue(d.counters().skippedHoles() > 0);
                    } else {
                        assertEquals(previous, r.backup().parentId());
                        assertTrue(d.counters().read() < DISK / 2, "an incremental reads the changes only");
                    }
                    var snap = vm.snapshot(r.snapshot()).orElseThrow();
                    SnapshotDisk disk = snap.disk(2000).orElseThrow();
                    assertEquals(DiskContent.sha256Of(disk::read, disk.capacity()),
                            restoredSha(repo, r.backup().backupId(), "disk-2000", dir.resolve("restore.raw")),
                            "backup " + i + " restores what its snapshot froze");
                    control.removeSnapshot(snap.moref());
                    assertTrue(vm.snapshots().isEmpty());
                    previous = r.backup().backupId();
                }
            } finally {
                sim.workload().rate(0);
            }
        }
    }

    @Test
    void aCaFileVerifiesTheCertificateAndItsName() throws Exception {
        var certs = io.blockmover.nbd.testing.TestCertificates.create(dir.resolve("ca"));
        var other = io.blockmover.nbd.testing.TestCertificates.create(dir.resolve("other-ca"));
        try (SdkServer signed = SdkServer.start(SdkOptions.defaults(new InetSocketAddress("127.0.0.1", 0))
                .withCertificate(new SdkOptions.Certificate(certs.serverCert(), certs.serverKey())), sim.host(), sim.faults())) {
            try (VcenterConnection c = VcenterConnection.open(new VcenterEndpoint(URI.create(signed.url()),
                    SdkOptions.DEFAULT_USER, SdkOptions.DEFAULT_PASSWORD, new TrustPolicy.CaFile(certs.caCert())))) {
                assertEquals(3, new VmInventory(c).names().size());
            }
            VsphereException refused = assertThrows(VsphereException.class, () -> VcenterConnection.open(new VcenterEndpoint(
                    URI.create(signed.url()), SdkOptions.DEFAULT_USER, SdkOptions.DEFAULT_PASSWORD,
                    new TrustPolicy.CaFile(other.caCert()))));
            assertTrue(refused.getMessage().contains("certificate"), refused.getMessage());
        }
    }

    @Test
    void snapshotPoliciesAndLeftoversBothWays() throws Exception {
        VirtualMachine vm = sim.host().requireVm("vm02");
        try (Repository repo = Repository.init(dir.resolve("repo-policies"), InitOptions.defaults());
             VcenterConnection c = connect()) {
            VsphereControl control = new VsphereControl(c, QUICK);
            String moref = vm.identity().moref();
            // createonly leaves its snapshot, marked as this proxy's ...
            VsphereBackup.Result created = backup(control, repo).run(new VsphereBackup.Request(VmSelector.parse("moref:" + moref),
                    BackupJob.Mode.AUTO, SnapshotPolicy.CREATEONLY, Optional.empty(), VsphereBackup.Preexisting.FAIL, true,
                    "test-proxy", ""), new Cancellation(), (d, x) -> {});
            assertFalse(created.snapshotRemoved());
            assertEquals(1, vm.snapshots().size());
            assertTrue(vm.snapshots().getFirst().quiesced(), "quiesce was asked for");
            assertEquals(List.of(created.snapshot()), control.leftovers(moref, "test-proxy").stream()
                    .map(VmInfo.SnapshotInfo::name).toList());
            // ... which an automatic run refuses with --preexisting fail ...
            VsphereException refused = assertThrows(VsphereException.class, () -> backup(control, repo).run(
                    automatic("vm02", BackupJob.Mode.AUTO), new Cancellation(), (d, x) -> {}));
            assertTrue(refused.getMessage().contains("--preexisting delete"), refused.getMessage());
            // ... manual reads it and leaves it ...
            VsphereBackup.Result manual = backup(control, repo).run(new VsphereBackup.Request(VmSelector.parse("name:vm02"),
                    BackupJob.Mode.AUTO, SnapshotPolicy.MANUAL, Optional.of(created.snapshot()), VsphereBackup.Preexisting.FAIL,
                    false, "test-proxy", ""), new Cancellation(), (d, x) -> {});
            assertFalse(manual.snapshotRemoved());
            assertEquals(1, vm.snapshots().size());
            // ... deleteonly reads it and removes it.
            VsphereBackup.Result deleted = backup(control, repo).run(new VsphereBackup.Request(VmSelector.parse("name:vm02"),
                    BackupJob.Mode.AUTO, SnapshotPolicy.DELETEONLY, Optional.of(created.snapshot()), VsphereBackup.Preexisting.FAIL,
                    false, "test-proxy", ""), new Cancellation(), (d, x) -> {});
            assertTrue(deleted.snapshotRemoved());
            assertTrue(vm.snapshots().isEmpty());
            // A leftover with --preexisting delete is removed before the new snapshot.
            vm.createSnapshot("blockmover-leftover", VsphereControl.description("test-proxy", "old"), false, false);
            VsphereBackup.Result after = backup(control, repo).run(new VsphereBackup.Request(VmSelector.parse("name:vm02"),
                    BackupJob.Mode.AUTO, SnapshotPolicy.AUTOMATIC, Optional.empty(), VsphereBackup.Preexisting.DELETE, false,
                    "test-proxy", ""), new Cancellation(), (d, x) -> {});
            assertTrue(after.snapshotRemoved());
            assertTrue(vm.snapshots().isEmpty());
        }
    }

    @Test
    void aFailedSnapshotTaskOrReadLeavesNoSnapshotAndNoBackup() throws Exception {
        VirtualMachine vm = sim.host().requireVm("vm03");
        EsxFaults faults = sim.faults();
        try (Repository repo = Repository.init(dir.resolve("repo-fail"), InitOptions.defaults());
             VcenterConnection c = connect()) {
            VsphereControl control = new VsphereControl(c, QUICK);
            faults.failNextTask("CreateSnapshot_Task");
            VsphereException task = assertThrows(VsphereException.class, () -> backup(control, repo).run(
                    automatic("vm03", BackupJob.Mode.AUTO), new Cancellation(), (d, x) -> {}));
            assertTrue(task.getMessage().contains("injected failure of CreateSnapshot_Task"), task.getMessage());
            assertTrue(vm.snapshots().isEmpty());
            assertTrue(repo.latest("vm03").isEmpty());

            faults.addReadError(new EsxFaults.ReadError(Optional.empty(), 4L << 20, 1 << 20));
            try {
                Exception read = assertThrows(Exception.class, () -> backup(control, repo).run(
                        automatic("vm03", BackupJob.Mode.AUTO), new Cancellation(), (d, x) -> {}));
                assertFalse(read.getMessage().isEmpty());
            } finally {
                faults.clear();
            }
            assertTrue(vm.snapshots().isEmpty(), "the snapshot of the failed job is removed");
            assertTrue(repo.latest("vm03").isEmpty(), "no backup is visible");

            // A busy VM is retried (TaskInProgress twice, then the snapshot goes through).
            faults.busyTasks(2);
            assertTrue(backup(control, repo).run(automatic("vm03", BackupJob.Mode.AUTO), new Cancellation(), (d, x) -> {})
                    .snapshotRemoved());
        }
    }

    @Test
    void changedAreasArePagedAndACbtResetForcesAFull() throws Exception {
        VirtualMachine vm = sim.host().requireVm("vm03");
        try (Repository repo = Repository.init(dir.resolve("repo-reset"), InitOptions.defaults());
             VcenterConnection c = connect()) {
            VsphereControl control = new VsphereControl(c, QUICK);
            backup(control, repo).run(automatic("vm03", BackupJob.Mode.FULL), new Cancellation(), (d, x) -> {});
            // Changes in the first and the last page: the loop must reach the end of the disk.
            var disk = vm.disk(2000).orElseThrow();
            var buf = io.netty.buffer.Unpooled.wrappedBuffer(new byte[65536]);
            buf.setByte(0, 1);
            disk.write(0, buf);
            disk.write(DISK - 65536, buf);
            var snap = vm.createSnapshot("paging");
            String snapMoref = snap.moref();
            String prior = repo.latest("vm03").orElseThrow().disk("disk-2000").orElseThrow().changeId();
            var areas = control.changedAreas(vm.identity().moref(), snapMoref, 2000, DISK, prior);
            vm.removeSnapshot("paging");
            assertTrue(DISK / PAGE > 1, "the disk spans several pages");
            assertEquals(List.of(0L, DISK - 65536), areas.stream().map(io.blockmover.nbd.units.ByteRange::offset).toList());

            control.resetChangeTracking(vm.identity().moref(), "test-proxy");
            VsphereBackup.Result r = backup(control, repo).run(automatic("vm03", BackupJob.Mode.AUTO), new Cancellation(),
                    (d, x) -> {});
            BackupJob.DiskOutcome d = r.backup().disks().getFirst();
            assertFalse(d.incremental());
            assertTrue(d.why().contains("FileFault") || d.why().contains("refused"), d.why());
        }
    }

    @Test
    void anExpiredSessionIsReestablished() throws Exception {
        try (SdkServer shortLived = SdkServer.start(SdkOptions.defaults(new InetSocketAddress("127.0.0.1", 0))
                .withIdleTimeout(Duration.ofMillis(300)), sim.host(), sim.faults());
             VcenterConnection c = VcenterConnection.open(new VcenterEndpoint(URI.create(shortLived.url()),
                     SdkOptions.DEFAULT_USER, SdkOptions.DEFAULT_PASSWORD, new TrustPolicy.Insecure()))) {
            VmInventory inv = new VmInventory(c);
            assertEquals(3, inv.list().size());
            Thread.sleep(600);
            assertEquals(3, inv.list().size(), "the call after expiry logs in again");
        }
    }
}
