package io.blockmover.mover.export;

import io.blockmover.mover.cli.Main;
import io.blockmover.nbd.testing.Peers;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static io.blockmover.mover.export.GuestImages.TOOL;
import static org.junit.jupiter.api.Assertions.*;

/**
 * File-level restore: {@code files ls} and {@code files get} of a backup read the guest's own
 * file system (through the export, nbdfuse and fuse2fs or ntfs-3g) and give what the file system's
 * own tools give: debugfs's rdump for ext4, the tree written into the NTFS image for NTFS.
 */
class GuestFilesTest {
    @TempDir
    Path dir;

    private record Run(int exit, String out, String err) {}

    private static synchronized Run cli(String... args) {
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

    @Test
    void lsAndGetOfAnExt4BackupEqualDebugfsRdumpOfTheImage() throws Exception {
        Path image = GuestImages.ext4(dir);
        Path repo = dir.resolve("repo");
        GuestImages.backup(image, repo, "ext4");
        Path reference = Files.createDirectories(dir.resolve("rdump"));
        Peers.run(TOOL, "debugfs", "-R", "rdump / " + reference, image.toString()).requireSuccess();
        TreeMap<String, String> expected = GuestImages.describe(reference);
        assertTrue(expected.containsKey("var/lib/db/table.bin") && expected.containsKey("lost+found"), expected.toString());

        Run ls = cli("files", "ls", "--repo", repo.toString(), "--backup", "1", "--disk", "disk-0", "-r", "/");
        assertEquals(0, ls.exit(), ls.err());
        List<String> listed = new ArrayList<>();
        for (String line : ls.out().split("\n")) {
            String[] f = line.split(" ", 3);
            String path = f[2].replaceFirst(" -> .*$", "").substring(1);
            listed.add(path);
            String kind = expected.get(path);
            assertNotNull(kind, "listed but not in the image: " + line);
            switch (f[0]) {
                case "d" -> assertEquals("d", kind, line);
                case "l" -> assertEquals(kind, "l -> " + f[2].substring(f[2].indexOf(" -> ") + 4), line);
                default -> assertTrue(kind.startsWith(f[1] + " "), line + " vs " + kind);
            }
        }
        assertEquals(new ArrayList<>(expected.keySet()), listed.stream().sorted().toList());

        Path out = dir.resolve("got");
        Run get = cli("files", "get", "--repo", repo.toString(), "--disk", "disk-0", "--to", out.toString(), "/");
        assertEquals(0, get.exit(), get.err());
        assertEquals(expected, GuestImages.describe(out));

        // One file by its path lands under its own name; a second copy over it needs --force.
        Path one = dir.resolve("one");
        String table = "/var/lib/db/table.bin";
        assertEquals(0, cli("files", "get", "--repo", repo.toString(), "--to", one.toString(), table).exit());
        assertEquals(expected.get("var/lib/db/table.bin"), GuestImages.describe(one).get("table.bin"));
        Run again = cli("files", "get", "--repo", repo.toString(), "--to", one.toString(), table);
        assertEquals(1, again.exit());
        assertTrue(again.err().contains("--force"), again.err());

        Run missing = cli("files", "ls", "--repo", repo.toString(), "/no/such/file");
        assertEquals(1, missing.exit());
        assertTrue(missing.err().contains("/no/such/file") && missing.err().contains("ext4"), missing.err());
        assertNoMountsLeft();
    }

    /**
     * A crash-consistent backup of a running guest: the journal needs replaying, which fuse2fs
     * refuses to skip read-only. files replays it into a throw-away overlay; the backup stays as it was.
     */
    @Test
    void anExt4WhoseJournalNeedsRecoveryIsReadAfterReplayingItOutsideTheBackup() throws Exception {
        Path image = GuestImages.ext4(dir);
        Peers.run(TOOL, "debugfs", "-w", "-R", "feature needs_recovery", image.toString()).requireSuccess();
        assertTrue(Peers.run(TOOL, "dumpe2fs", "-h", image.toString()).stdout().contains("needs_recovery"));
        Path repo = dir.resolve("repo");
        GuestImages.backup(image, repo, "crashed");
        Path reference = Files.createDirectories(dir.resolve("rdump"));
        Peers.run(TOOL, "debugfs", "-R", "rdump / " + reference, image.toString()).requireSuccess();

        Path out = dir.resolve("got");
        Run get = cli("files", "get", "--repo", repo.toString(), "--to", out.toString(), "/");
        assertEquals(0, get.exit(), get.err());
        assertEquals(GuestImages.describe(reference), GuestImages.describe(out));
        Run verify = cli("verify", "--repo", repo.toString(), "--backup", "1");
        assertEquals(0, verify.exit(), verify.out() + verify.err());
        assertNoMountsLeft();
    }

    @Test
    void aPartitionedDiskIsReadPartitionByPartition() throws Exception {
        Path first = GuestImages.tree(Files.createDirectories(dir.resolve("a")));
        Path second = Files.createDirectories(dir.resolve("b/tree"));
        Files.writeString(second.resolve("only-in-two.txt"), "partition two\n");
        Path image = GuestImages.partitioned(dir, first, second);
        Path repo = dir.resolve("repo");
        GuestImages.backup(image, repo, "parted");

        Run which = cli("files", "ls", "--repo", repo.toString(), "/");
        assertEquals(1, which.exit());
        assertTrue(which.err().contains("dos partitions [1 (ext4, 32 MiB), 2 (ext4, 32 MiB)]") && which.err().contains("--partition"),
                which.err());

        Path one = dir.resolve("got1");
        Run get = cli("files", "get", "--repo", repo.toString(), "--partition", "1", "--to", one.toString(), "/var");
        assertEquals(0, get.exit(), get.err());
        assertEquals(GuestImages.describe(first.resolve("var")), GuestImages.describe(one.resolve("var")));
        Run ls = cli("files", "ls", "--repo", repo.toString(), "--partition", "2", "/");
        assertEquals(0, ls.exit(), ls.err());
        assertTrue(ls.out().contains("- 14 /only-in-two.txt"), ls.out());
        Run none = cli("files", "ls", "--repo", repo.toString(), "--partition", "3", "/");
        assertEquals(1, none.exit());
        assertTrue(none.err().contains("no partition 3"), none.err());
        assertNoMountsLeft();
    }

    @Test
    void getOfAnNtfsBackupGivesTheFilesWrittenIntoTheImage() throws Exception {
        Path tree = GuestImages.tree(dir);
        Path image = dir.resolve("ntfs.img");
        Peers.run(TOOL, "truncate", "-s", "32M", image.toString()).requireSuccess();
        Peers.run(TOOL, "mkntfs", "-q", "-F", "-f", image.toString()).requireSuccess();
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        Peers.run(TOOL, "ntfs-3g", image.toString(), mnt.toString()).requireSuccess();
        try {
            Peers.run(TOOL, "cp", "-a", tree + "/.", mnt.toString()).requireSuccess();
        } finally {
            Peers.run(TOOL, "fusermount", "-u", mnt.toString()).requireSuccess();
        }
        Path repo = dir.resolve("repo");
        GuestImages.backup(image, repo, "win");

        Path out = dir.resolve("got");
        Run get = cli("files", "get", "--repo", repo.toString(), "--to", out.toString(), "/");
        assertEquals(0, get.exit(), get.err());
        assertTrue(get.out().contains("from ntfs"), get.out());
        Map<String, String> got = GuestImages.describe(out);
        assertEquals(GuestImages.describe(tree), got);

        Run ls = cli("files", "ls", "--repo", repo.toString(), "/etc/conf.d");
        assertEquals(0, ls.exit(), ls.err());
        assertEquals("- 6000 /etc/conf.d/a name with spaces.conf\n", ls.out());
        assertNoMountsLeft();
    }

    @Test
    void aDiskWithoutAKnownFileSystemIsAClearError() throws Exception {
        Path image = dir.resolve("blank.img");
        Peers.run(TOOL, "truncate", "-s", "8M", image.toString()).requireSuccess();
        Files.write(image, "not a file system".getBytes(StandardCharsets.US_ASCII), java.nio.file.StandardOpenOption.WRITE);
        Path repo = dir.resolve("repo");
        GuestImages.backup(image, repo, "blank");
        Run ls = cli("files", "ls", "--repo", repo.toString(), "/");
        assertEquals(1, ls.exit());
        assertTrue(ls.err().contains("no file system blkid knows"), ls.err());
        assertNoMountsLeft();
    }

    /** FUSE mounts of `files` on this machine: other test runs beside this one (the mount table is shared) make them too. */
    private static List<String> filesMounts() throws Exception {
        return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream().filter(l -> l.contains("blockmover-files-")).toList();
    }

    private List<String> mountsBefore = List.of();

    @BeforeEach
    void noteMountsOfOtherRuns() throws Exception {
        mountsBefore = filesMounts();
    }

    /**
     * No mount of this test is left. A mount that appeared meanwhile may be another run's on this
     * shared machine: those come and go within seconds, a leaked one stays; so each new one must go
     * within 10 s.
     */
    private void assertNoMountsLeft() throws Exception {
        List<String> left = List.of();
        for (long deadline = System.nanoTime() + 10_000_000_000L; System.nanoTime() < deadline; Thread.sleep(200)) {
            left = filesMounts().stream().filter(m -> !mountsBefore.contains(m)).toList();
            if (left.isEmpty()) {
                return;
            }
        }
        fail("every FUSE mount is gone:\n" + String.join("\n", left));
    }
}
