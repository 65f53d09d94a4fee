package io.blockmover.mover.export;

import io.blockmover.mover.cli.Main;
import io.blockmover.nbd.testing.FreePorts;
import io.blockmover.nbd.testing.Peers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

/** Disk images with real guest file systems, and their backups, for the instant-restore tests. */
final class GuestImages {
    static final Duration TOOL = Duration.ofSeconds(60);
    static final long IMAGE_SIZE = 64L << 20;

    private GuestImages() {}

    /** A tree of files worth restoring: text, incompressible data, nesting, odd names, a symlink, an empty file. */
    static Path tree(Path dir) throws IOException {
        Path t = Files.createDirectories(dir.resolve("tree"));
        Random random = new Random(19);
        Files.writeString(t.resolve("hello.txt"), "hello from the guest\n");
        Files.createDirectories(t.resolve("etc/conf.d"));
        Files.writeString(t.resolve("etc/conf.d/a name with spaces.conf"), "key = value\n".repeat(500));
        byte[] data = new byte[(3 << 20) + 1234];
        random.nextBytes(data);
        Files.createDirectories(t.resolve("var/lib/db"));
        Files.write(t.resolve("var/lib/db/table.bin"), data);
        Files.write(t.resolve("var/lib/db/empty"), new byte[0]);
        Files.createSymbolicLink(t.resolve("current"), Path.of("var/lib/db/table.bin"));
        return t;
    }

    /** A sparse ext4 image made by mkfs.ext4 from {@link #tree}. */
    static Path ext4(Path dir) throws IOException {
        Path tree = tree(dir);
        Path image = dir.resolve("ext4.img");
        Peers.run(TOOL, "truncate", "-s", String.valueOf(IMAGE_SIZE), image.toString()).requireSuccess();
        Peers.run(TOOL, "mkfs.ext4", "-q", "-F", "-d", tree.toString(), image.toString()).requireSuccess();
        return image;
    }

    /**
     * A disk with an MBR partition table (made here: the table is 64 bytes) and two ext4 file
     * systems, partition 1 from {@code first}, partition 2 from {@code second}, at 1 MiB and 33 MiB.
     */
    static Path partitioned(Path dir, Path first, Path second) throws IOException {
        long mib = 1 << 20;
        Path disk = dir.resolve("partitioned.img");
        try (java.nio.channels.FileChannel out = java.nio.channels.FileChannel.open(disk, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer mbr = java.nio.ByteBuffer.allocate(512).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            Path[] trees = {first, second};
            for (int i = 0; i < 2; i++) {
                Path part = dir.resolve("part" + (i + 1) + ".img");
                Peers.run(TOOL, "truncate", "-s", "32M", part.toString()).requireSuccess();
                Peers.run(TOOL, "mkfs.ext4", "-q", "-F", "-d", trees[i].toString(), part.toString()).requireSuccess();
                long start = mib + i * 32 * mib;
                mbr.put(446 + 16 * i + 4, (byte) 0x83).putInt(446 + 16 * i + 8, (int) (start / 512)).putInt(446 + 16 * i + 12, (int) (32 * mib / 512));
                try (java.nio.channels.FileChannel in = java.nio.channels.FileChannel.open(part)) {
                    in.transferTo(0, in.size(), out.position(start));
                }
            }
            mbr.put(510, (byte) 0x55).put(511, (byte) 0xaa);
            out.write(mbr, 0);
        }
        return disk;
    }

    /** Backs {@code image} up (full) as VM {@code vm}, disk {@code disk-0}, creating the repository if needed. */
    static void backup(Path image, Path repo, String vm) {
        if (!Files.exists(repo)) {
            cli("init", "--repo", repo.toString());
        }
        int port = FreePorts.find();
        try (Peers.Peer qemu = Peers.start(List.of("qemu-nbd", "-r", "-f", "raw", "-b", "127.0.0.1", "-p", String.valueOf(port),
                "-x", "disk", "--persistent", "--shared=4", image.toString()), port, TOOL)) {
            cli("backup", "--repo", repo.toString(), "--source", "nbd://127.0.0.1:" + port + "/disk", "--name", vm + "/disk-0",
                    "--full", "--no-progress");
        }
    }

    static void cli(String... args) {
        int exit = Main.execute(args);
        if (exit != 0) {
            throw new AssertionError("blockmover " + String.join(" ", args) + " exited " + exit);
        }
    }

    /**
     * A directory tree as comparable values: relative path to "d", "l -> target" or the file's
     * bytes as hex of their SHA-256 with the size. Two trees are equal when names, kinds, link
     * targets and bytes are.
     */
    static TreeMap<String, String> describe(Path root) throws IOException {
        TreeMap<String, String> out = new TreeMap<>();
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.skip(1).toList()) {
                String rel = root.relativize(p).toString();
                if (Files.isSymbolicLink(p)) {
                    out.put(rel, "l -> " + Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.put(rel, "d");
                } else {
                    byte[] b = Files.readAllBytes(p);
                    out.put(rel, b.length + " " + Arrays.hashCode(b) + " " + io.blockmover.nbd.testing.Digests.sha256(p));
                }
            }
        }
        return out;
    }
}
