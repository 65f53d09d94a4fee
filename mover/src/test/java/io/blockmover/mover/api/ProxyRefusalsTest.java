package io.blockmover.mover.api;

import io.blockmover.mover.api.v1.BackupMode;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.api.v1.ListBackupsRequest;
import io.blockmover.mover.api.v1.RestoreRequest;
import io.blockmover.mover.api.v1.VerifyRequest;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What no caller of the proxy may ask, whoever it is: hostile names, sources and NBD restore
 * targets outside the operator's allow-list, oversized requests, a plaintext listener off loopback.
 */
class ProxyRefusalsTest {
    @TempDir
    Path dir;

    private ProxyFixture fixture;
    private BackupProxyGrpc.BackupProxyBlockingStub proxy;

    @BeforeEach
    void start() throws Exception {
        fixture = new ProxyFixture(dir);
        proxy = fixture.stub(60);
    }

    @AfterEach
    void stop() throws Exception {
        fixture.close();
    }

    private Status.Code backupStatus(BackupRequest request) {
        return assertThrows(StatusRuntimeException.class, () -> proxy.backup(request).forEachRemaining(e -> { }))
                .getStatus().getCode();
    }

    private BackupRequest.Builder request(String vm, String disk, String uri) {
        return BackupRequest.newBuilder().setVm(vm).setMode(BackupMode.BACKUP_MODE_FULL)
                .addDisks(DiskSource.newBuilder().setDisk(disk).setUri(uri));
    }

    @Test
    void traversalAndOversizedNamesAreInvalidArguments() throws Exception {
        Snapshot s = fixture.vm.createSnapshot("s1");
        String uri = fixture.export(s);
        for (String hostile : List.of("x/../../../outside/pwn", "x/y", "..", ".", "vm\n01", "a\\b", "nul\u0000", "x".repeat(256))) {
            assertEquals(Status.Code.INVALID_ARGUMENT, backupStatus(request(hostile, "disk-2000", uri).build()), "vm " + hostile);
            assertEquals(Status.Code.INVALID_ARGUMENT, backupStatus(request("vm01", hostile, uri).build()), "disk " + hostile);
        }
        // 100 KB does not even reach the service: the message bound refuses it.
        Status.Code huge = backupStatus(request("x".repeat(100_000), "disk-2000", uri).build());
        assertTrue(huge == Status.Code.RESOURCE_EXHAUSTED || huge == Status.Code.INVALID_ARGUMENT, huge.toString());
        BackupRequest.Builder many = request("vm01", "d0", uri);
        for (int i = 1; i <= RequestLimits.MAX_DISKS; i++) {
            many.addDisks(DiskSource.newBuilder().setDisk("d" + i).setUri(uri));
        }
        assertEquals(Status.Code.INVALID_ARGUMENT, backupStatus(many.build()));
        assertEquals(0, proxy.listBackups(ListBackupsRequest.getDefaultInstance()).getBackupsCount(), "nothing recorded");
        // Only the test's own tree and its parent's name: walking all of /tmp would race with other processes.
        try (Stream<Path> all = Files.walk(dir)) {
            assertFalse(all.anyMatch(p -> p.getFileName().toString().equals("outside")), "nothing written");
        }
        assertFalse(Files.exists(dir.resolveSibling("outside")), "nothing written outside");
    }

    @Test
    void aDirectoryRestoreOfAnAllowedBackupStaysInTheDirectoryAsked() throws Exception {
        Snapshot s = fixture.vm.createSnapshot("s1");
        ProxyFixture.backup(proxy, fixture.backupOf(s, BackupMode.BACKUP_MODE_FULL));
        Path sub = Files.createDirectories(dir.resolve("out").resolve("sub"));
        proxy.restore(RestoreRequest.newBuilder().setBackupId(1).setTarget(sub.toString()).build()).forEachRemaining(e -> { });
        try (Stream<Path> files = Files.list(sub)) {
            assertEquals(List.of(sub.resolve("vm01-disk-2000.raw")), files.toList());
        }
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(sub.resolve("vm01-disk-2000.raw"))));
    }

    @Test
    void sourcesAndNbdTargetsOutsideTheAllowListAreRefused() throws Exception {
        Snapshot s = fixture.vm.createSnapshot("s1");
        for (String uri : List.of("nbd://10.255.255.1:10809/vm01/disk-2000", "nbd://localhost:" + fixture.sim.nbdAddress().getPort()
                + "/vm01/disk-2000@s1", "nbd+unix:///x?socket=/etc/passwd", "nbd+unix:///x?socket=" + dir + "/../../etc/passwd")) {
            assertEquals(Status.Code.PERMISSION_DENIED, backupStatus(request("vm01", "disk-2000", uri).build()), uri);
            StatusRuntimeException verify = assertThrows(StatusRuntimeException.class,
                    () -> proxy.verify(VerifyRequest.newBuilder().setAgainstUri(uri).build()));
            assertTrue(verify.getStatus().getCode() == Status.Code.PERMISSION_DENIED
                    || verify.getStatus().getCode() == Status.Code.NOT_FOUND, verify.getStatus().toString());
        }
        ProxyFixture.backup(proxy, fixture.backupOf(s, BackupMode.BACKUP_MODE_FULL));

        // The live disk of the emulated host: this proxy restores to no NBD export.
        SnapshotDisk live = s.disks().getFirst();
        String before = io.blockmover.nbd.esx.DiskContent.sha256Of(live::read, live.capacity());
        String liveExport = "nbd://127.0.0.1:" + fixture.sim.nbdAddress().getPort() + "/vm01/disk-2000";
        StatusRuntimeException denied = assertThrows(StatusRuntimeException.class, () -> proxy.restore(RestoreRequest.newBuilder()
                .setBackupId(1).setTarget(liveExport).build()).forEachRemaining(e -> { }));
        assertEquals(Status.Code.PERMISSION_DENIED, denied.getStatus().getCode(), denied.getStatus().toString());
        assertTrue(denied.getStatus().getDescription().contains("--allow-restore-to"), denied.getStatus().toString());
        assertEquals(before, io.blockmover.nbd.esx.DiskContent.sha256Of(live::read, live.capacity()));
    }

    @Test
    void allowRulesMatchHostsPortsAndSocketDirectories() throws Exception {
        Path sockets = Files.createDirectories(dir.resolve("sockets"));
        Files.createSymbolicLink(sockets.resolve("out"), Path.of("/etc"));
        SourcePolicy p = SourcePolicy.of(List.of("*.esx.example:10809", "10.1.2.*:*", "[::1]:10809", sockets.toString()), List.of());
        p.checkSource("nbd://h1.esx.example/x");
        p.checkSource("nbd://10.1.2.99:10900/x");
        p.checkSource("nbd://[::1]:10809/x");
        p.checkSource("nbd+unix:///x?socket=" + sockets.resolve("vm01.sock"));
        for (String refused : List.of("nbd://esx.example.evil:10809/x", "nbd://h1.esx.example:22/x", "nbd://10.1.20.1:10809/x",
                "nbd+unix:///x?socket=" + sockets.resolve("out/passwd"), "nbd+unix:///x?socket=" + sockets.resolve("../s"))) {
            assertThrows(SecurityException.class, () -> p.checkSource(refused), refused);
        }
        assertThrows(SecurityException.class, () -> p.checkRestoreTarget("nbd://h1.esx.example/x"), "sources are not targets");
        assertThrows(IllegalArgumentException.class, () -> SourcePolicy.of(List.of("relative/dir"), List.of()));
        assertThrows(IllegalArgumentException.class, () -> SourcePolicy.of(List.of("host:port"), List.of()));
    }

    @Test
    void plaintextOffLoopbackNeedsInsecureListen() {
        InetSocketAddress any = new InetSocketAddress("0.0.0.0", 50051);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ListenCheck.check(any, false, false));
        assertTrue(e.getMessage().contains("--insecure-listen"), e.getMessage());
        ListenCheck.check(any, true, false);
        ListenCheck.check(any, false, true);
        ListenCheck.check(new InetSocketAddress("127.0.0.1", 50051), false, false);
        ListenCheck.check(new InetSocketAddress("::1", 50051), false, false);
    }
}
