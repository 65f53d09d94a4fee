package io.blockmover.mover.api;

import io.blockmover.mover.api.v1.BackupMode;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.ExportStatus;
import io.blockmover.mover.api.v1.InUseBackup;
import io.blockmover.mover.api.v1.Job;
import io.blockmover.mover.api.v1.JobKind;
import io.blockmover.mover.api.v1.JobPhase;
import io.blockmover.mover.api.v1.JobRef;
import io.blockmover.mover.api.v1.JobState;
import io.blockmover.mover.api.v1.ListExportsRequest;
import io.blockmover.mover.api.v1.PruneRequest;
import io.blockmover.mover.api.v1.PruneResult;
import io.blockmover.mover.api.v1.StartExportRequest;
import io.blockmover.mover.api.v1.StopExportRequest;
import io.blockmover.nbd.esx.DiskContent;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.blockmover.nbd.testing.Peers;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static io.blockmover.nbd.testing.Digests.sha256;
import static org.junit.jupiter.api.Assertions.*;

/** Instant restore through the proxy: a scheduler starts, lists and stops exports over gRPC, beside prune. */
class ProxyExportTest {
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

    @Test
    void anExportServesTheBackupAndHoldsItAgainstPruneUntilStopped() throws Exception {
        Snapshot s1 = fixture.vm.createSnapshot("s1");
        ProxyFixture.backup(proxy, fixture.backupOf(s1, BackupMode.BACKUP_MODE_FULL));
        fixture.sim.workload().writeGrains(8);
        ProxyFixture.backup(proxy, fixture.backupOf(fixture.vm.createSnapshot("s2"), BackupMode.BACKUP_MODE_INCREMENTAL));

        ExportStatus started = proxy.startExport(StartExportRequest.newBuilder().setBackupId(1).build());
        assertEquals(1, started.getBackupId());
        assertEquals("vm01", started.getVm());
        assertFalse(started.getWritable());
        assertEquals(1, started.getUrisCount());
        assertTrue(started.getUris(0).endsWith("/disk-2000"), started.getUris(0));

        Path copied = dir.resolve("copied.raw");
        Peers.run(Duration.ofSeconds(60), "nbdcopy", started.getUris(0), copied.toString()).requireSuccess();
        SnapshotDisk d = s1.disks().getFirst();
        assertEquals(DiskContent.sha256Of(d::read, d.capacity()), sha256(copied));
        assertEquals(List.of(started), proxy.listExports(ListExportsRequest.getDefaultInstance()).getExportsList());
        Job job = proxy.getJob(JobRef.newBuilder().setId(started.getExportId()).build());
        assertEquals(JobKind.JOB_KIND_EXPORT, job.getKind());
        assertEquals(JobState.JOB_STATE_RUNNING, job.getState());
        assertEquals(JobPhase.JOB_PHASE_SERVE, job.getPhase());
        assertEquals("vm01", job.getVm());

        PruneResult held = proxy.prune(PruneRequest.newBuilder().setKeepLast(1).build());
        assertEquals(List.of(), held.getRemovedList());
        assertEquals(List.of(InUseBackup.newBuilder().setBackupId(1).setWhy("exported").build()), held.getInUseList());

        assertEquals(started, proxy.stopExport(StopExportRequest.newBuilder().setExportId(started.getExportId()).build()));
        assertEquals(0, proxy.listExports(ListExportsRequest.getDefaultInstance()).getExportsCount());
        Job stopped = proxy.getJob(JobRef.newBuilder().setId(started.getExportId()).build());
        assertEquals(JobState.JOB_STATE_CANCELLED, stopped.getState());
        assertEquals("stopped by a StopExport call", stopped.getErrorMessage());
        assertNotEquals(0, Peers.run(Duration.ofSeconds(30), "nbdinfo", started.getUris(0)).exitCode(), "no longer served");
        assertEquals(List.of(1L), proxy.prune(PruneRequest.newBuilder().setKeepLast(1).build()).getRemovedList());

        StatusRuntimeException unknown = assertThrows(StatusRuntimeException.class,
                () -> proxy.stopExport(StopExportRequest.newBuilder().setExportId(started.getExportId()).build()));
        assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());
        StatusRuntimeException gone = assertThrows(StatusRuntimeException.class,
                () -> proxy.startExport(StartExportRequest.newBuilder().setBackupId(1).build()));
        assertEquals(Status.Code.NOT_FOUND, gone.getStatus().getCode(), gone.getMessage());
    }

    @Test
    void aWritableExportOnAUnixSocketKeepsItsOverlayBesideTheRepository() throws Exception {
        ProxyFixture.backup(proxy, fixture.backupOf(fixture.vm.createSnapshot("s1"), BackupMode.BACKUP_MODE_FULL));
        Path socket = dir.resolve("export.sock");
        ExportStatus started = proxy.startExport(StartExportRequest.newBuilder().setBackupId(1).setSocket(socket.toString())
                .setWritable(true).build());
        assertEquals("nbd+unix:///disk-2000?socket=" + socket, started.getUris(0));
        assertEquals(dir.resolve("repo.overlays").toString(), started.getOverlayDir());
        Peers.run(Duration.ofSeconds(60), "qemu-io", "-f", "raw", "-c", "write -P 7 1M 64k", "-c", "flush", started.getUris(0))
                .requireSuccess();
        proxy.stopExport(StopExportRequest.newBuilder().setExportId(started.getExportId()).build());
        ExportStatus again = proxy.startExport(StartExportRequest.newBuilder().setBackupId(1).setSocket(socket.toString())
                .setWritable(true).build());
        Peers.Result r = Peers.run(Duration.ofSeconds(60), "qemu-io", "-r", "-f", "raw", "-c", "read -P 7 1M 64k", again.getUris(0))
                .requireSuccess();
        assertFalse(r.stdout().contains("failed"), r.stdout());
        // An export is a job: CancelJob stops it like StopExport.
        proxy.cancelJob(JobRef.newBuilder().setId(again.getExportId()).build());
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (proxy.listExports(ListExportsRequest.getDefaultInstance()).getExportsCount() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(0, proxy.listExports(ListExportsRequest.getDefaultInstance()).getExportsCount());
        assertFalse(java.nio.file.Files.exists(socket), "the socket is gone with the export");
    }
}
