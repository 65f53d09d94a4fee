package io.blockmover.mover.pipeline;

import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.transport.DiskSource;
import io.blockmover.mover.transport.RetryPolicy;
import io.blockmover.mover.transport.nbd.ConnectOptions;
import io.blockmover.mover.transport.nbd.NbdDiskSource;
import io.blockmover.mover.transport.nbd.NbdUri;
import io.blockmover.nbd.esx.EsxFaults;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.ExportNames;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.SnapshotDisk;
import io.blockmover.nbd.server.Extent;
import io.blockmover.nbd.units.ByteRange;

import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The backup pipeline end to end over real NBD sockets against the emulated host: backups of
 * snapshots, restores checked against what the emulator says each snapshot holds, incrementals
 * from changed block tracking, and faults.
 */
class BackupPipelineTest {
    private static final long DISK = 48L << 20;
    private static final int CHUNK = 256 << 10;
    private static final int GRAIN = 64 << 10;

    @TempDir
    Path dir;

    private EsxSimulator sim;
    private Repository repo;
    private EmulatedVm vm;

    @BeforeEach
    void start() throws Exception {
        sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(11, 1, 2, DISK, Profile.MIXED, true)));
        repo = Repository.init(dir.resolve("repo"), InitOptions.defaults().withChunkSize(CHUNK));
        vm = new EmulatedVm(sim, "vm01", repo);
    }

    @AfterEach
    void stop() throws Exception {
        repo.close();
        sim.close();
    }

    @Test
    void generationsOfFullAndIncrementalBackupsRestoreExactly() throws Exception {
        for (int g = 1; g <= 3; g++) {
            if (g > 1) {
                sim.workload().writeGrains(40);
            }
            BackupJob.Result r = vm.backup("g" + g);
            for (BackupJob.DiskOutcome d : r.disks()) {
                assertEquals(g > 1, d.incremental(), "generation " + g + " " + d.diskId() + ": " + d.why());
            }
            for (SnapshotDisk d : vm.vm().snapshot("g" + g).orElseThrow().disks()) {
                assertEquals(EmulatedVm.expectedSha256(d), vm.restoreSha256(r.backupId(), EmulatedVm.diskId(d), dir),
                        "generation " + g + " disk " + EmulatedVm.diskId(d));
            }
            if (g > 1) {
                vm.vm().removeSnapshot("g" + (g - 1));
            }
        }
        // The first generation is still restorable exactly after two incrementals built on it.
        assertEquals(3, repo.backups().size());
    }

    /**
     * A repository with frames of four chunks: the pipeline hands each worker a frame's worth of
     * consecutive chunks, the restore reads them back a frame's worth per worker, and an
     * incremental's few changed chunks are stored in small frames of their own.
     */
    @Test
    void framedRepositoryGenerationsRestoreExactlyAndVerify() throws Exception {
        try (Repository framed = Repository.init(dir.resolve("framed"), InitOptions.defaults().withChunkSize(CHUNK).withFrameSize(4 * CHUNK))) {
            EmulatedVm fvm = new EmulatedVm(sim, "vm01", framed);
            for (int g = 1; g <= 2; g++) {
                if (g > 1) {
                    sim.workload().writeGrains(40);
                }
                BackupJob.Result r = fvm.backup("f" + g);
                for (SnapshotDisk d : fvm.vm().snapshot("f" + g).orElseThrow().disks()) {
                    assertEquals(EmulatedVm.expectedSha256(d), fvm.restoreSha256(r.backupId(), EmulatedVm.diskId(d), dir),
                            "generation " + g + " disk " + EmulatedVm.diskId(d));
                }
            }
            assertEquals(4, framed.config().formatVersion());
            assertTrue(new io.blockmover.index.maintenance.Verifier(framed).run(2).ok());
        }
    }

    @Test
    void incrementalReadsOnlyTheChangedChunks() throws Exception {
        vm.backup("s1");
        List<String> firstChangeIds = vm.vm().snapshot("s1").orElseThrow().disks().stream()
                .map(d -> d.changeId().orElseThrow().toString()).toList();
        sim.workload().writeGrains(25);

        List<CountingSource> counted = new ArrayList<>();
        BackupJob.Result r = vm.backup("s2", BackupJob.Mode.INCREMENTAL, ConnectOptions.DEFAULT, s -> {
            CountingSource c = new CountingSource(s);
            counted.add(c);
            return c;
        }, PipelineSettings.DEFAULT);

        List<SnapshotDisk> disks = vm.vm().snapshot("s2").orElseThrow().disks();
        long expected = 0;
        for (int i = 0; i < disks.size(); i++) {
            expected += changedChunkBytes(disks.get(i), firstChangeIds.get(i));
        }
        long transport = counted.stream().mapToLong(c -> c.bytesRead.get()).sum();
        long pipeline = r.disks().stream().mapToLong(d -> d.counters().read()).sum();
        assertTrue(expected > 0 && expected < 2 * DISK / 10, "the workload changed a few percent: " + expected);
        assertEquals(expected, transport, "bytes the transport was asked for");
        assertEquals(expected, pipeline, "bytes the pipeline counted as read");
        for (SnapshotDisk d : disks) {
            assertEquals(EmulatedVm.expectedSha256(d), vm.restoreSha256(r.backupId(), EmulatedVm.diskId(d), dir));
        }
    }

    /** Every chunk touched by a grain the emulator reports as changed since {@code changeId}. */
    private static long changedChunkBytes(SnapshotDisk d, String changeId) throws Exception {
        TreeSet<Long> chunks = new TreeSet<>();
        for (long start = 0; start < d.capacity(); ) {
            var areas = d.changedAreas(changeId, start);
            for (var a : areas.areas()) {
                for (long at = a.offset() / CHUNK * CHUNK; at < a.offset() + a.length(); at += CHUNK) {
                    chunks.add(at);
                }
            }
            start = areas.startOffset() + areas.length();
        }
        return chunks.stream().mapToLong(at -> Math.min(CHUNK, d.capacity() - at)).sum();
    }

    @Test
    void aRestartedHostsChangeTrackingIsNotTrustedSoTheBackupIsFull() throws Exception {
        vm.backup("s1");
        sim.close();
        sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(11, 1, 2, DISK, Profile.MIXED, true)));
        vm = new EmulatedVm(sim, "vm01", repo);
        sim.workload().writeGrains(10);

        IOException forced = assertThrows(IOException.class, () -> vm.backup("s2", BackupJob.Mode.INCREMENTAL,
                ConnectOptions.DEFAULT, s -> s, PipelineSettings.DEFAULT), "a forced incremental fails rather than reading everything");
        assertTrue(forced.getMessage().contains("cannot back up disk-2000 incrementally"), forced.getMessage());
        assertTrue(repo.backups().size() == 1, "nothing recorded by the refused incremental");

        BackupJob.Result r = vm.backup("s3");
        for (BackupJob.DiskOutcome d : r.disks()) {
            assertFalse(d.incremental(), d.diskId() + " must not trust the old host's changeIds");
            assertTrue(d.why().startsWith("changed areas unavailable"), d.why());
        }
        for (SnapshotDisk d : vm.vm().snapshot("s3").orElseThrow().disks()) {
            assertEquals(EmulatedVm.expectedSha256(d), vm.restoreSha256(r.backupId(), EmulatedVm.diskId(d), dir));
        }
    }

    @Test
    void readErrorFailsTheJobWithItsOffsetAndRecordsNothing() throws Exception {
        long offset = firstDataOffset(vm.vm().disks().getFirst().extents(0, DISK)) + 3 * GRAIN;
        sim.faults().addReadError(new EsxFaults.ReadError(Optional.empty(), offset, 4096));
        Exception e = assertThrows(Exception.class, () -> vm.backup("bad"));
        assertTrue(e.getMessage().contains(Long.toString(offset / CHUNK * CHUNK)) || e.getMessage().contains(Long.toString(offset)),
                "the error names the failing range: " + e.getMessage());
        assertTrue(repo.backups().isEmpty(), "a failed backup is not recorded");

        sim.faults().clear();
        BackupJob.Result r = vm.backup("good");
        for (SnapshotDisk d : vm.vm().snapshot("good").orElseThrow().disks()) {
            assertEquals(EmulatedVm.expectedSha256(d), vm.restoreSha256(r.backupId(), EmulatedVm.diskId(d), dir));
        }
    }

    @Test
    void droppedConnectionWithinTheRetriesStillGivesAnExactBackup() throws Exception {
        sim.faults().dropAfterRequests(40);
        BackupJob.Result r = vm.backup("s1");
        for (SnapshotDisk d : vm.vm().snapshot("s1").orElseThrow().disks()) {
            assertEquals(EmulatedVm.expectedSha256(d), vm.restoreSha256(r.backupId(), EmulatedVm.diskId(d), dir));
        }
    }

    @Test
    void hostGoneForGoodExhaustsTheRetriesAndRecordsNothing() throws Exception {
        ConnectOptions impatient = ConnectOptions.DEFAULT.withRetry(new RetryPolicy(2, Duration.ofMillis(20), Duration.ofMillis(40)));
        AtomicInteger reads = new AtomicInteger();
        var stopper = Executors.newSingleThreadExecutor();
        try {
            Exception e = assertThrows(Exception.class, () -> vm.backup("s1", BackupJob.Mode.AUTO, impatient,
                    s -> new CountingSource(s) {
                        @Override
                        public CompletableFuture<io.netty.buffer.ByteBuf> read(long offset, int length) {
                            if (reads.incrementAndGet() == 10) {
                                stopper.execute(sim::close); // the host goes away mid-backup
                            }
                            return super.read(offset, length);
                        }
                    }, new PipelineSettings(4, 2, 2)));
            assertTrue(e.getMessage().contains("gave up after 2 retries"), "says the retries ran out: " + e.getMessage());
        } finally {
            stopper.shutdown();
        }
        assertTrue(repo.backups().isEmpty(), "nothing recorded: " + repo.backups());
    }

    @Test
    void verifyAgainstTheSnapshotFindsAWriteThatTrackingMissed() throws Exception {
        vm.backup("s1");
        var disk = vm.vm().disks().getFirst();
        long offset = firstDataOffset(disk.extents(0, DISK)) + 5 * CHUNK + GRAIN;
        byte[] junk = new byte[GRAIN];
        java.util.Arrays.fill(junk, (byte) 0x5a);
        disk.writeUntracked(offset, Unpooled.wrappedBuffer(junk));
        BackupJob.Result r = vm.backup("s2");
        assertTrue(r.disks().getFirst().incremental());

        String export = ExportNames.snapshot("vm01", disk.spec().deviceKey(), "s2");
        var workers = Executors.newFixedThreadPool(2);
        try (var reader = repo.openBackup(r.backupId());
             DiskSource source = NbdDiskSource.open(NbdUri.parse(vm.uri(export)), ConnectOptions.DEFAULT)) {
            SourceComparison.Result cmp = new SourceComparison(reader.disk("disk-" + disk.spec().deviceKey()), source,
                    workers, 8, new Cancellation(), new TransferCounters(DISK)).run(1.0);
            long chunk = offset / CHUNK * CHUNK;
            assertEquals(List.of(new ByteRange(chunk, CHUNK)), cmp.differences());
            assertEquals(DISK / CHUNK, cmp.chunksCompared());
        } finally {
            workers.shutdown();
        }
    }

    @Test
    void cancellationStopsTheBackupCleanlyAndRecordsNothing() throws Exception {
        Cancellation cancellation = new Cancellation();
        AtomicInteger reads = new AtomicInteger();
        Exception e = assertThrows(java.util.concurrent.CancellationException.class, () -> vm.backup("s1", BackupJob.Mode.AUTO,
                ConnectOptions.DEFAULT, s -> new CountingSource(s) {
                    @Override
                    public CompletableFuture<io.netty.buffer.ByteBuf> read(long offset, int length) {
                        if (reads.incrementAndGet() == 20) {
                            cancellation.cancel("interrupted"); // Ctrl-C while reads are in flight
                        }
                        return super.read(offset, length);
                    }
                }, new PipelineSettings(8, 2, 2), cancellation));
        assertEquals("interrupted", e.getMessage());
        assertTrue(repo.backups().isEmpty(), "nothing recorded: " + repo.backups());
        assertTrue(reads.get() < 2 * DISK / CHUNK, "stopped early: " + reads.get() + " reads");

        // The repository is healthy: the next backup works and is exact.
        BackupJob.Result r = vm.backup("s2");
        for (SnapshotDisk d : vm.vm().snapshot("s2").orElseThrow().disks()) {
            assertEquals(EmulatedVm.expectedSha256(d), vm.restoreSha256(r.backupId(), EmulatedVm.diskId(d), dir));
        }
    }

    private static long firstDataOffset(List<Extent> extents) {
        long at = 0;
        for (Extent e : extents) {
            if (e.flags() == 0 && e.length() >= 16L * CHUNK) {
                return (at + CHUNK - 1) / CHUNK * CHUNK;
            }
            at += e.length();
        }
        throw new IllegalStateException("no long data extent in the test disk");
    }
}
