package io.blockmover.mover.cli;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.manifest.ManifestKeys;
import io.blockmover.index.db.IndexDb;
import io.blockmover.index.repo.FileModes;
import io.blockmover.index.repo.RepositoryConfig;
import io.blockmover.index.repo.Repository;
import io.blockmover.nbd.esx.DiskContent;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.Snapshot;
import io.blockmover.nbd.esx.SnapshotDisk;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

import static io.blockmover.nbd.testing.Digests.sha256;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The command line as an attacker or an unlucky operator uses it: hostile names, a damaged
 * chunk met by a restore, a permissive umask, a secret typed into a wrong option.
 */
class HostileInputCliTest {
    private static final long DISK = 8L << 20;
    /** The names of the hardening issue: traversal, a path inside, a newline, 100 KB. */
    static final List<String> HOSTILE_VMS = List.of("x/../../../outside", "x/y", "..", "vm\n01", "vm\u000001",
            "a\\..\\b", "x".repeat(100_000));

    @TempDir
    Path dir;

    private EsxSimulator sim;
    private String repo;

    private record Run(int exit, String out, String err) {}

    @BeforeEach
    void start() throws Exception {
        sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(7, 1, 1, DISK, Profile.MIXED, true)));
        repo = dir.resolve("repo").toString();
    }

    @AfterEach
    void stop() {
        sim.close();
    }

    private synchronized Run cli(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            int exit = Main.execute(args);
            return new Run(exit, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    private String export(Snapshot s) {
        return "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/vm01/disk-2000@" + s.name();
    }

    private Snapshot backup() throws Exception {
        Snapshot s = sim.host().requireVm("vm01").createSnapshot("s" + System.nanoTime());
        Run r = cli("backup", "--repo", repo, "--no-progress", "--source", export(s));
        assertEquals(0, r.exit(), r.err());
        return s;
    }

    @Test
    void hostileNamesAreRefusedBeforeAnyWork() throws Exception {
        assertEquals(0, cli("init", "--repo", repo, "--chunk-size", "256K").exit());
        Snapshot s = sim.host().requireVm("vm01").createSnapshot("s1");
        for (String vm : HOSTILE_VMS) {
            for (String name : List.of(vm + "/disk0", "vm01/" + vm)) {
                Run r = cli("backup", "--repo", repo, "--no-progress", "--source", export(s), "--name", name);
                assertEquals(1, r.exit(), name + ": " + r.out());
                assertTrue(r.err().startsWith("blockmover: ") && (r.err().contains("invalid VM name") || r.err().contains("invalid disk name")
                        || r.err().contains("--name must look like")), r.err());
                assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
                assertTrue(r.err().length() < 600, "the 100 KB name is not echoed whole");
            }
        }
        Run label = cli("backup", "--repo", repo, "--no-progress", "--source", export(s), "--label", "l".repeat(100_000));
        assertEquals(1, label.exit());
        assertTrue(label.err().contains("label is 100000 bytes long"), label.err());
        try (Repository r = Repository.openReadOnly(Path.of(repo), null)) {
            assertEquals(List.of(), r.backups());
        }
        assertFalse(Files.exists(dir.resolveSibling("outside")) || Files.exists(dir.resolve("outside")));
    }

    /**
     * A repository written before names were checked: listed, refused for --to-dir (a path built
     * from such a name could leave the directory), restored to an explicit file.
     */
    @Test
    void anExistingBackupWithTraversalNamesRestoresOnlyToAnExplicitFile() throws Exception {
        assertEquals(0, cli("init", "--repo", repo, "--chunk-size", "256K").exit());
        Snapshot s = backup();
        BackupRecord b;
        try (Repository r = Repository.open(Path.of(repo), null)) {
            b = r.backups().getFirst();
        }
        DiskRecord d = b.disks().getFirst();
        BackupRecord hostile = new BackupRecord(b.id(), "x/../../../outside", b.label(), b.parentId(), b.started(),
                b.committed(), b.manifestPack(), List.of(new DiskRecord(d.index(), "../../pwn", d.capacity(), d.chunkSize(),
                d.changeId(), d.dataChunks(), d.zeroChunks(), d.newChunks(), d.newStoredBytes())));
        // Written straight into the catalog, as a repository from before the names were checked holds it.
        try (IndexDb db = IndexDb.open(Path.of(repo, "index"), RepositoryConfig.read(Path.of(repo)).formatVersion())) {
            db.rocks().put(db.catalog(), ManifestKeys.catalogKey(b.id()), hostile.encode());
        }
        Path sub = dir.resolve("out").resolve("sub");
        Run list = cli("list", "--repo", repo);
        assertEquals(0, list.exit(), list.err());
        assertTrue(list.out().contains("x/../../../outside"), list.out());

        Run toDir = cli("restore", "--repo", repo, "--to-dir", sub.toString());
        assertEquals(1, toDir.exit());
        assertTrue(toDir.err().contains("not a safe file name") && toDir.err().contains("--to FILE"), toDir.err());
        try (Stream<Path> all = Files.walk(dir)) {
            assertEquals(List.of(), all.filter(p -> p.getFileName().toString().contains("pwn")).toList(), "nothing written anywhere");
        }

        Path file = dir.resolve("explicit.raw");
        Run explicit = cli("restore", "--repo", repo, "--to", file.toString());
        assertEquals(0, explicit.exit(), explicit.err());
        SnapshotDisk sd = s.disks().getFirst();
        assertEquals(DiskContent.sha256Of(sd::read, sd.capacity()), sha256(file));
    }

    @Test
    void aDamagedChunkLeavesNoFileAtTheFinalNameAndTheRetryNeedsNoForce() throws Exception {
        assertEquals(0, cli("init", "--repo", repo, "--chunk-size", "256K", "--zstd-level", "1").exit());
        backup();
        Path pack;
        try (Stream<Path> packs = Files.walk(Path.of(repo, "packs"))) {
            pack = packs.filter(Files::isRegularFile).max(Comparator.comparingLong(p -> p.toFile().length())).orElseThrow();
        }
        try (RandomAccessFile f = new RandomAccessFile(pack.toFile(), "rw")) {
            f.seek(f.length() / 2);
            f.write(new byte[64 << 10]); // zeros over the middle records: their checksums fail
        }
        Path target = dir.resolve("restored.raw");
        Run failed = cli("restore", "--repo", repo, "--to", target.toString());
        assertEquals(1, failed.exit());
        String line = failed.err().strip();
        assertEquals(1, line.lines().count(), line);
        assertTrue(line.contains("backup 1") && line.contains("disk-2000") && line.contains("the chunk at offset ")
                && line.contains("was removed"), line);
        assertFalse(Files.exists(target), "no file at the final name");
        assertFalse(Files.exists(Path.of(target + ".partial")), "the partial file was removed");

        Run kept = cli("restore", "--repo", repo, "--to", target.toString(), "--keep-partial");
        assertEquals(1, kept.exit());
        assertTrue(kept.err().contains("kept as " + target + ".partial"), kept.err());
        assertTrue(Files.exists(Path.of(target + ".partial")) && !Files.exists(target));

        Run retry = cli("restore", "--repo", repo, "--to", target.toString());
        assertFalse(retry.err().contains("--force"), "a failed restore left nothing to force over: " + retry.err());

        // An NBD export cannot be rolled back: the line names what was left unwritten, from at most the failed chunk on.
        Run toNbd = cli("restore", "--repo", repo, "--to", "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/vm01/disk-2000");
        assertEquals(1, toNbd.exit());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("the chunk at offset (\\d+): .*bytes (\\d+) to (\\d+) of the target "
                + "were left unwritten").matcher(toNbd.err());
        assertTrue(m.find(), toNbd.err());
        assertTrue(Long.parseLong(m.group(2)) <= Long.parseLong(m.group(1)) && Long.parseLong(m.group(3)) == DISK, toNbd.err());
    }

    @Test
    void repositoryAndRestoredFilesAreOwnerOnlyUnderUmaskZero() throws Exception {
        int previous = FileModes.umask(0);
        try {
            assertEquals(0, cli("init", "--repo", repo, "--chunk-size", "256K").exit());
            FileModes.umask(0); // whatever the process did at init
            backup();
            FileModes.umask(0);
            Path image = dir.resolve("img.raw");
            assertEquals(0, cli("restore", "--repo", repo, "--to", image.toString()).exit());
            FileModes.umask(0);
            Path shared = dir.resolve("shared.raw");
            Run withMode = cli("restore", "--repo", repo, "--to", shared.toString(), "--mode", "0640");
            assertEquals(0, withMode.exit(), withMode.err());

            List<String> wrong = new ArrayList<>();
            try (Stream<Path> all = Files.walk(Path.of(repo))) {
                all.forEach(p -> {
                    try {
                        String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
                        String want = Files.isDirectory(p) ? "rwx------" : "rw-------";
                        if (!mode.equals(want)) {
                            wrong.add(p + " " + mode);
                        }
                    } catch (java.io.IOException e) {
                        // RocksDB removed it during the walk
                    }
                });
            }
            assertEquals(List.of(), wrong, "repository directories 0700, files 0600 (config and key included)");
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(image)));
            assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(shared)));
        } finally {
            FileModes.umask(previous);
        }
    }

    @Test
    void aSecretTypedIntoAnUnknownOptionIsNotEchoed() {
        Run r = cli("init", "--repo", repo, "--passphrase", "hunter2-SECRET");
        assertTrue(r.exit() != 0);
        assertTrue(r.err().contains("--passphrase"), r.err());
        assertFalse(r.err().contains("hunter2-SECRET"), r.err());
        Run attached = cli("list", "--repo", repo, "--password=hunter2-SECRET");
        assertFalse(attached.err().contains("hunter2-SECRET"), attached.err());
    }

    @Test
    void fileErrorsNameThePathAndTheOperation() throws Exception {
        assertEquals(0, cli("init", "--repo", repo).exit());
        Path missing = dir.resolve("no-such-passphrase");
        Run r = cli("list", "--repo", repo, "--passphrase-file", missing.toString());
        assertEquals(1, r.exit());
        assertEquals("blockmover: reading the passphrase file " + missing + ": " + missing + ": no such file or directory",
                r.err().strip());
    }
}
