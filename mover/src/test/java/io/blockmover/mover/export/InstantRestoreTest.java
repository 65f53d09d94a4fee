package io.blockmover.mover.export;

import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.backup.DiskReader;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.maintenance.PruneReport;
import io.blockmover.index.maintenance.Pruner;
import io.blockmover.index.maintenance.Retention;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.transport.DiskIoException;
import io.blockmover.mover.transport.nbd.ConnectOptions;
import io.blockmover.mover.transport.nbd.NbdClient;
import io.blockmover.mover.transport.nbd.NbdUri;
import io.blockmover.nbd.server.ServerTls;
import io.blockmover.nbd.testing.Peers;
import io.blockmover.nbd.testing.TestCertificates;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static io.blockmover.mover.export.GuestImages.TOOL;
import static io.blockmover.nbd.testing.Digests.sha256;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Instant restore against peers nobody here wrote: a backup of a real ext4 image served by
 * {@code export} and read by nbdcopy, qemu-img, nbdinfo and qemu-io.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class InstantRestoreTest {
    private static final int EIO = 5;

    @TempDir
    static Path dir;

    private Path image;
    private Path repoDir;

    @BeforeAll
    void backUpAnExt4Image() throws Exception {
        image = GuestImages.ext4(dir);
        repoDir = dir.resolve("repo");
        GuestImages.backup(image, repoDir, "ext4");
    }

    private static ExportOptions options(boolean writable) {
        return new ExportOptions(1, Optional.empty(), new InetSocketAddress("127.0.0.1", 0), writable, Optional.empty(),
                Optional.empty(), 8L << 20);
    }

    @Test
    void nbdcopyAndQemuImgConvertFromTheExportGiveTheSourceDiskAndNbdinfoShowsItsHoles() throws Exception {
        try (Repository repo = Repository.open(repoDir, null); BackupExport export = BackupExport.start(repo, options(false))) {
            String uri = export.uris().getFirst();
            assertTrue(uri.endsWith("/disk-0"), uri);
            Path copied = dir.resolve("nbdcopy.raw");
            Path converted = dir.resolve("converted.raw");
            Peers.run(TOOL, "nbdcopy", uri, copied.toString()).requireSuccess();
            Peers.run(TOOL, "qemu-img", "convert", "-f", "raw", "-O", "raw", uri, converted.toString()).requireSuccess();
            assertEquals(sha256(image), sha256(copied));
            assertEquals(sha256(image), sha256(converted));

            String info = Peers.run(TOOL, "nbdinfo", uri).requireSuccess().stdout();
            assertTrue(info.contains("can_multi_conn: true") && info.contains("is_read_only: true"), info);

            // nbdinfo --map: every zero chunk of the manifest is a hole, every other chunk data.
            DiskRecord disk = repo.backup(1).orElseThrow().disks().getFirst();
            long holes = 0;
            long data = 0;
            for (String line : Peers.run(TOOL, "nbdinfo", "--map", uri).requireSuccess().stdout().split("\n")) {
                String[] f = line.trim().split("\\s+");
                long length = Long.parseLong(f[1]);
                if (f[3].equals("hole,zero")) {
                    holes += length;
                } else {
                    assertEquals("data", f[3], line);
                    data += length;
                }
            }
            assertEquals(disk.zeroChunks() * disk.chunkSize(), holes, "holes are the manifest's zero chunks");
            assertEquals(disk.dataChunks() * disk.chunkSize(), data);
            assertTrue(holes > GuestImages.IMAGE_SIZE / 2, "the mostly empty file system shows as mostly holes: " + holes);
        }
    }

    @Test
    void qemuIoWritesSurviveARestartOfTheWritableExportAndTheBackupStillVerifies() throws Exception {
        byte[] expected = Files.readAllBytes(image);
        Random random = new Random(4);
        List<String> writes = new ArrayList<>();
        List<String> reads = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            long offset = random.nextLong(GuestImages.IMAGE_SIZE / 4096) * 4096;
            int pattern = 1 + random.nextInt(254);
            java.util.Arrays.fill(expected, (int) offset, (int) offset + 4096, (byte) pattern);
            writes.add("-c");
            writes.add("write -P " + pattern + " " + offset + " 4k");
        }
        Random again = new Random(4);
        for (int i = 0; i < 32; i++) {
            long offset = again.nextLong(GuestImages.IMAGE_SIZE / 4096) * 4096;
            again.nextInt(254);
            reads.add("-c");
            reads.add("read -P " + (expected[(int) offset] & 0xff) + " " + offset + " 4k");
        }
        try (Repository repo = Repository.open(repoDir, null)) {
            try (BackupExport export = BackupExport.start(repo, options(true))) {
                List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
                cmd.addAll(writes);
                cmd.addAll(List.of("-c", "flush", export.uris().getFirst()));
                Peers.Result r = Peers.run(TOOL, cmd).requireSuccess();
                assertFalse(r.stdout().contains("failed"), r.stdout());
                assertEquals(dir.resolve("repo.overlays").toAbsolutePath(), export.overlayDir().orElseThrow());
            }
            // A restart with the same arguments continues from the overlay.
            try (BackupExport export = BackupExport.start(repo, options(true))) {
                List<String> cmd = new ArrayList<>(List.of("qemu-io", "-r", "-f", "raw"));
                cmd.addAll(reads);
                cmd.add(export.uris().getFirst());
                Peers.Result r = Peers.run(TOOL, cmd).requireSuccess();
                assertFalse(r.stdout().contains("Pattern verification failed"), r.stdout());
                Path copied = dir.resolve("after-restart.raw");
                Peers.run(TOOL, "nbdcopy", export.uris().getFirst(), copied.toString()).requireSuccess();
                assertArrayEquals(expected, Files.readAllBytes(copied), "reads merge the overlay and the backup");
            }
            // The backup itself never changed.
            try (BackupExport export = BackupExport.start(repo, options(false))) {
                Path copied = dir.resolve("backup-after.raw");
                Peers.run(TOOL, "nbdcopy", export.uris().getFirst(), copied.toString()).requireSuccess();
                assertEquals(sha256(image), sha256(copied));
            }
            try (var files = Files.walk(repoDir)) {
                assertTrue(files.noneMatch(p -> p.toString().contains("overlay")), "nothing of the overlay is in the repository");
            }
        }
        GuestImages.cli("verify", "--repo", repoDir.toString(), "--backup", "1");
    }

    @Test
    void withTlsRequiredNbdcopyReadsOverTlsAndPlainClientsAreRefused() throws Exception {
        TestCertificates certs = TestCertificates.create(dir.resolve("pki"));
        ExportOptions tls = new ExportOptions(1, Optional.empty(), new InetSocketAddress("127.0.0.1", 0), false, Optional.empty(),
                Optional.of(new ServerTls(certs.serverCert(), certs.serverKey(), Optional.empty(), true)), 8L << 20);
        try (Repository repo = Repository.open(repoDir, null); BackupExport export = BackupExport.start(repo, tls)) {
            String uri = export.uris().getFirst();
            assertTrue(uri.startsWith("nbds://"), uri);
            Path copied = dir.resolve("tls.raw");
            Peers.run(TOOL, "nbdcopy", uri + "?tls-certificates=" + certs.dir(), copied.toString()).requireSuccess();
            assertEquals(sha256(image), sha256(copied));
            assertNotEquals(0, Peers.run(TOOL, "nbdinfo", uri.replace("nbds://", "nbd://")).exitCode());
        }
    }

    @Test
    void anOverlayDirectoryInsideTheRepositoryIsRefused() throws Exception {
        try (Repository repo = Repository.open(repoDir, null)) {
            ExportOptions inside = new ExportOptions(1, Optional.empty(), new InetSocketAddress("127.0.0.1", 0), true,
                    Optional.of(repoDir.resolve("overlays")), Optional.empty(), 0);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BackupExport.start(repo, inside));
            assertTrue(e.getMessage().contains("inside the repository"), e.getMessage());
            assertTrue(repo.heldFor(1).isEmpty(), "a failed start releases its hold");
        }
    }

    @Test
    void smallReadsOfOneChunkDecodeItOnce() throws Exception {
        byte[] source = Files.readAllBytes(image);
        try (Repository repo = Repository.open(repoDir, null); BackupExport export = BackupExport.start(repo, options(false));
             NbdClient client = NbdClient.connect(NbdUri.parse(export.uris().getFirst()), ConnectOptions.DEFAULT)) {
            long chunk = firstDataChunk(repo, 1);
            int chunkSize = repo.config().chunkSize();
            for (int i = 0; i < chunkSize / 4096; i++) {
                long offset = chunk + i * 4096L;
                ByteBuf b = client.read(offset, 4096).get(30, TimeUnit.SECONDS);
                try {
                    byte[] got = new byte[4096];
                    b.readBytes(got);
                    assertArrayEquals(java.util.Arrays.copyOfRange(source, (int) offset, (int) offset + 4096), got);
                } finally {
                    b.release();
                }
            }
            ChunkCache.Stats stats = export.cacheStats();
            assertEquals(1, stats.misses(), stats.toString());
            assertEquals(chunkSize / 4096 - 1, stats.hits(), stats.toString());
        }
    }

    @Test
    void aChunkCopiedWholeIsCachedOnItsSecondReadAndServedFromTheCacheAfter() throws Exception {
        byte[] source = Files.readAllBytes(image);
        try (Repository repo = Repository.open(repoDir, null); BackupExport export = BackupExport.start(repo, options(false));
             NbdClient client = NbdClient.connect(NbdUri.parse(export.uris().getFirst()), ConnectOptions.DEFAULT)) {
            long chunk = firstDataChunk(repo, 1);
            int chunkSize = repo.config().chunkSize();
            for (int i = 0; i < 3; i++) {
                ByteBuf b = client.read(chunk, chunkSize).get(30, TimeUnit.SECONDS);
                try {
                    byte[] got = new byte[chunkSize];
                    b.readBytes(got);
                    assertArrayEquals(java.util.Arrays.copyOfRange(source, (int) chunk, (int) chunk + chunkSize), got, "read " + i);
                } finally {
                    b.release();
                }
            }
            ChunkCache.Stats stats = export.cacheStats();
            assertEquals(2, stats.misses(), "decoded and checked on the first two reads: " + stats);
            assertEquals(1, stats.hits(), stats.toString());
            assertEquals(1, stats.entries(), stats.toString());
        }
    }

    @Test
    void aDamagedPackAnswersEioForThatChunkOnlyAndTheExportKeepsServing() throws Exception {
        Path repoCopy = dir.resolve("damaged-repo");
        GuestImages.backup(image, repoCopy, "ext4");
        byte[] source = Files.readAllBytes(image);
        long damaged;
        int chunkSize;
        try (Repository repo = Repository.open(repoCopy, null)) {
            damaged = uniqueRandomChunk(repo, 1, source);
            chunkSize = repo.config().chunkSize();
        }
        // Random data is stored as it is (zstd would not shrink it): find its bytes in a pack and flip one.
        byte[] plain = java.util.Arrays.copyOfRange(source, (int) damaged, (int) damaged + chunkSize);
        boolean flipped = false;
        try (var packs = Files.walk(repoCopy.resolve("packs"))) {
            for (Path pack : packs.filter(Files::isRegularFile).toList()) {
                byte[] bytes = Files.readAllBytes(pack);
                int at = indexOf(bytes, plain);
                if (at >= 0) {
                    try (RandomAccessFile f = new RandomAccessFile(pack.toFile(), "rw")) {
                        f.seek(at + chunkSize / 2);
                        f.write(bytes[at + chunkSize / 2] ^ 0x40);
                    }
                    flipped = true;
                    break;
                }
            }
        }
        assertTrue(flipped, "the chunk's bytes are in a pack");
        try (Repository repo = Repository.open(repoCopy, null); BackupExport export = BackupExport.start(repo, options(false));
             NbdClient client = NbdClient.connect(NbdUri.parse(export.uris().getFirst()), ConnectOptions.DEFAULT)) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> client.read(damaged + 4096, 4096).get(30, TimeUnit.SECONDS).release());
            DiskIoException io = (DiskIoException) e.getCause();
            assertEquals(EIO, io.errno(), io.getMessage());
            assertTrue(io.getMessage().contains("backup 1 disk disk-0: chunk at offset " + damaged), io.getMessage());
            // The chunks on either side still read, byte for byte.
            for (long offset : new long[] {damaged - chunkSize, damaged + chunkSize}) {
                if (offset < 0 || offset >= source.length) {
                    continue;
                }
                ByteBuf b = client.read(offset, chunkSize).get(30, TimeUnit.SECONDS);
                try {
                    byte[] got = new byte[chunkSize];
                    b.readBytes(got);
                    assertArrayEquals(java.util.Arrays.copyOfRange(source, (int) offset, (int) offset + chunkSize), got);
                } finally {
                    b.release();
                }
            }
            assertNotEquals(0, Peers.run(TOOL, "nbdcopy", export.uris().getFirst(), "null:").exitCode(),
                    "a whole copy meets the damaged chunk");
            Peers.run(TOOL, "nbdinfo", export.uris().getFirst()).requireSuccess();
        }
    }

    @Test
    void pruneKeepsAnExportedBackupAndSaysItIsInUse() throws Exception {
        Path twice = dir.resolve("prune-repo");
        GuestImages.backup(image, twice, "ext4");
        GuestImages.backup(image, twice, "ext4");
        Retention keepLast = new Retention(1, 0, 0, 0, 0);
        try (Repository repo = Repository.open(twice, null)) {
            try (BackupExport export = BackupExport.start(repo, options(false))) {
                PruneReport r = new Pruner(repo).run(keepLast, ZoneOffset.UTC, false);
                assertEquals(List.of(), r.removed());
                assertEquals(List.of(new PruneReport.InUse(1, "exported")), r.inUse());
                assertTrue(repo.backup(1).isPresent());
                Peers.run(TOOL, "nbdcopy", export.uris().getFirst(), "null:").requireSuccess();
            }
            PruneReport r = new Pruner(repo).run(keepLast, ZoneOffset.UTC, false);
            assertEquals(List.of(1L), r.removed(), "released, the backup goes at the next prune");
        }
    }

    /** The offset of the first chunk that is not a zero chunk. */
    private static long firstDataChunk(Repository repo, long backupId) {
        try (BackupReader reader = repo.openBackup(backupId)) {
            DiskReader d = reader.disk("disk-0");
            for (long off = 0; off < d.capacity(); off += d.chunkSize()) {
                if (!d.isZero(off)) {
                    return off;
                }
            }
        }
        throw new AssertionError("no data chunk");
    }

    /**
     * A chunk of the image's random file (incompressible, so stored as it is), used at one offset
     * only, away from the disk's ends: damage to it touches one range.
     */
    private static long uniqueRandomChunk(Repository repo, long backupId, byte[] source) {
        try (BackupReader reader = repo.openBackup(backupId)) {
            DiskReader d = reader.disk("disk-0");
            Map<ChunkId, List<Long>> uses = new HashMap<>();
            for (long off = 0; off < d.capacity(); off += d.chunkSize()) {
                ChunkId id = d.chunkAt(off);
                if (id != null) {
                    uses.computeIfAbsent(id, k -> new ArrayList<>()).add(off);
                }
            }
            return uses.values().stream().filter(l -> l.size() == 1).map(List::getFirst)
                    .filter(off -> off > 0 && looksRandom(source, off.intValue(), d.chunkSize()))
                    .sorted().skip(2).findFirst().orElseThrow();
        }
    }

    /** Every byte value occurs: text, metadata and zeros do not look like this. */
    private static boolean looksRandom(byte[] b, int from, int length) {
        java.util.BitSet seen = new java.util.BitSet(256);
        for (int i = from; i < from + length; i++) {
            seen.set(b[i] & 0xff);
        }
        return seen.cardinality() == 256;
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            if (haystack[i] != needle[0]) {
                continue;
            }
            for (int j = 1; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
