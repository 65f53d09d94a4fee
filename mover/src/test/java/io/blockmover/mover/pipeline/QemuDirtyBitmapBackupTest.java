package io.blockmover.mover.pipeline;

import io.blockmover.nbd.testing.Digests;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.transport.nbd.ConnectOptions;
import io.blockmover.mover.transport.nbd.NbdDiskSource;
import io.blockmover.mover.transport.nbd.NbdUri;
import io.blockmover.nbd.testing.FreePorts;
import io.blockmover.nbd.testing.Peers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Incremental backups from a peer nobody here wrote: qemu-nbd exporting a qcow2 image with a
 * persistent dirty bitmap, whose {@code qemu:dirty-bitmap:bm0} meta context is the changed-areas
 * source (QEMU's analogue of VMware CBT).
 */
class QemuDirtyBitmapBackupTest {
    private static final Duration TOOL = Duration.ofSeconds(60);
    private static final int CHUNK = 256 << 10;

    @TempDir
    Path dir;

    @Test
    void dirtyBitmapDrivesAnExactIncremental() throws Exception {
        String image = dir.resolve("disk.qcow2").toString();
        Peers.run(TOOL, "qemu-img", "create", "-q", "-f", "qcow2", image, "32M").requireSuccess();
        Peers.run(TOOL, "qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 8M", "-c", "write -P 0x22 16M 4M", image).requireSuccess();

        try (Repository repo = Repository.init(dir.resolve("repo"), InitOptions.defaults().withChunkSize(CHUNK))) {
            BackupJob.Result full = backupFromQemu(repo, image, List.of(), Optional.empty(), BackupJob.Mode.FULL);
            assertEquals(rawSha256(image), restoreSha256(repo, full.backupId()));

            // The guest writes while the bitmap records: 64 KiB at 4 MiB and 1 MiB at 20 MiB.
            Peers.run(TOOL, "qemu-img", "bitmap", "--add", image, "bm0").requireSuccess();
            Peers.run(TOOL, "qemu-io", "-f", "qcow2", "-c", "write -P 0x33 4M 64k", "-c", "write -P 0x44 20M 1M", image)
                    .requireSuccess();

            String token = "qemu:dirty-bitmap:bm0";
            BackupJob.Result incr = backupFromQemu(repo, image, List.of("-B", "bm0"), Optional.of(token), BackupJob.Mode.INCREMENTAL);
            BackupJob.DiskOutcome d = incr.disks().getFirst();
            assertTrue(d.incremental(), d.why());
            assertEquals(CHUNK + 4L * CHUNK, d.counters().read(), "only the chunks under the dirty bitmap are read");
            assertEquals(rawSha256(image), restoreSha256(repo, incr.backupId()));
        }
    }

    /**
     * A backup reads 1 MiB pieces of 256 KiB chunks here, and stores each chunk of a piece on its
     * own: this disk's last piece holds two whole chunks and a 12 KiB one, one piece repeats a chunk
     * of its own and one of an earlier piece, and one chunk is zeros. Every chunk is accounted for
     * once and the disk restores exactly.
     */
    @Test
    void piecesOfSeveralChunksEndingInAShortChunkAreStoredChunkByChunk() throws Exception {
        String image = dir.resolve("pieces.qcow2").toString();
        int chunks = 18;
        long size = (long) chunks * CHUNK + (12 << 10);
        Peers.run(TOOL, "qemu-img", "create", "-q", "-f", "qcow2", image, Long.toString(size)).requireSuccess();
        List<String> io = new ArrayList<>(List.of("qemu-io", "-f", "qcow2"));
        for (int k = 0; k < chunks; k++) {
            int pattern = switch (k) {
                case 5 -> 0x11; // chunk 1's bytes, in the next piece
                case 6 -> 0x14; // chunk 4's bytes, in the same piece
                case 9 -> 0; // zeros, written
                default -> 0x10 + k;
            };
            io.addAll(List.of("-c", "write -P " + pattern + " " + (long) k * CHUNK + " " + CHUNK));
        }
        io.addAll(List.of("-c", "write -P 0x77 " + (long) chunks * CHUNK + " 12k", image));
        Peers.run(TOOL, io.toArray(String[]::new)).requireSuccess();

        try (Repository repo = Repository.init(dir.resolve("repo"), InitOptions.defaults().withChunkSize(CHUNK))) {
            BackupJob.Result full = backupFromQemu(repo, image, List.of(), Optional.empty(), BackupJob.Mode.FULL);
            TransferCounters.Snapshot c = full.disks().getFirst().counters();
            assertEquals(size, c.read() + c.skippedZeros() + c.skippedHoles(), "every byte read or skipped: " + c);
            assertEquals(c.read(), c.zeroChunks() + c.deduplicated() + c.newData(), "every chunk read is accounted once: " + c);
            assertEquals(2L * CHUNK, c.deduplicated(), "the two repeated chunks: " + c);
            assertEquals(rawSha256(image), restoreSha256(repo, full.backupId()));
        }
    }

    private BackupJob.Result backupFromQemu(Repository repo, String image, List<String> extra, Optional<String> token,
                                            BackupJob.Mode mode) throws Exception {
        int port = FreePorts.find();
        List<String> cmd = new ArrayList<>(List.of("qemu-nbd", "-r", "-f", "qcow2", "-b", "127.0.0.1", "-p", Integer.toString(port),
                "-x", "disk", "--persistent", "--shared=4"));
        cmd.addAll(extra);
        cmd.add(image);
        try (Peers.Peer qemu = Peers.start(cmd, port, Duration.ofSeconds(20));
             NbdDiskSource source = NbdDiskSource.open(NbdUri.parse("nbd://127.0.0.1:" + port + "/disk"),
                     ConnectOptions.DEFAULT.withMetaContexts(token.map(List::of).orElse(List.of())))) {
            return new BackupJob(repo, PipelineSettings.DEFAULT, new Cancellation()).run("qemu-vm", "", mode,
                    List.of(new BackupJob.DiskInput("disk", source, "", token)), (a, b) -> {});
        }
    }

    private String rawSha256(String image) throws Exception {
        Path raw = dir.resolve("expected.raw");
        Peers.run(TOOL, "qemu-img", "convert", "-f", "qcow2", "-O", "raw", image, raw.toString()).requireSuccess();
        return Digests.sha256(raw);
    }

    private String restoreSha256(Repository repo, long backupId) throws Exception {
        Path out = dir.resolve("restored-" + backupId + ".raw");
        var workers = java.util.concurrent.Executors.newFixedThreadPool(2);
        try (var reader = repo.openBackup(backupId);
             var target = io.blockmover.mover.transport.file.FileDiskTarget.create(out, reader.disk("disk").capacity(), io.blockmover.mover.transport.file.FileTargetOptions.DEFAULT)) {
            new DiskRestore(reader.disk("disk"), target, workers, 8, new TransferCounters(target.capacity()), new Cancellation()).run();
        } finally {
            workers.shutdown();
        }
        return Digests.sha256(out);
    }
}
