package io.blockmover.mover.api;

import io.blockmover.index.backup.GcFence;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.api.v1.BackupMode;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupResult;
import io.blockmover.mover.api.v1.GcRequest;
import io.blockmover.mover.api.v1.GcResult;
import io.blockmover.mover.api.v1.PruneRequest;
import io.blockmover.mover.api.v1.RestoreEvent;
import io.blockmover.mover.api.v1.RestoreRequest;
import io.blockmover.mover.api.v1.VerifyRequest;
import io.blockmover.mover.api.v1.VerifyResult;
import io.blockmover.nbd.esx.DiskContent;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.blockmover.nbd.esx.VirtualMachine;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
    /** Bounds waits for other threads so a regression fails instead of hanging; nothing is timed. */
    private static final long BOUND_SECONDS = 60;

    @TempDir
    Path dir;

    private ProxyFixture fixture;
    private EsxSimulator sim;
    private VirtualMachine vm;
    private Repository repo;

    @BeforeEach
    void start() throws Exception {
        fixture = new ProxyFixture(dir);
        sim = fixture.sim;
        vm = fixture.vm;
        repo = fixture.repo;
    }

    @AfterEach
    void stop() throws Exception {
        repo.observeGc(null);
        fixture.close();
    }

    private BackupProxyGrpc.BackupProxyBlockingStub bounded() {
        return fixture.stub(BOUND_SECONDS);
    }

    private String export(Snapshot s) {
        return fixture.export(s);
    }

    private BackupResult backup(Snapshot s, BackupMode mode) {
        return ProxyFixture.backup(bounded(), fixture.backupOf(s, mode));
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
        repo.observeGc(phase -> {
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
