package io.blockmover.mover.export;

import io.blockmover.index.repo.Repository;

import java.io.IOException;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A guest file system of a backup, mounted read-only for file-level restore. Nothing here parses
 * a file system: the disk is exported on a private Unix socket, {@code nbdfuse} shows the export
 * as a file, {@code blkid} names the file system on it, and the kept readers mount it with FUSE
 * ({@code fuse2fs} for ext2/3/4, {@code ntfs-3g} for NTFS). On a partitioned disk (MBR or GPT)
 * {@code partx} lists the partitions and nbdkit's partition filter serves the chosen one, which a
 * second {@code nbdfuse} shows as a file. A backup of a running guest is crash
 * consistent: its ext3/4 journal usually needs replaying, which fuse2fs refuses to skip on a
 * read-only mount, so the private export is writable into a throw-away overlay in the work
 * directory and {@code e2fsck -E journal_only} replays the journal there first (the backup never
 * changes). Needs {@code /dev/fuse} and the right to mount FUSE (root, or fusermount's setuid
 * helper). Closing unmounts, stops everything and deletes the overlay.
 */
public final class GuestFileSystem implements AutoCloseable {
    private static final long MOUNT_WAIT_MILLIS = 20_000;

    /** A file system type blkid reports, and the FUSE driver that reads it. */
    private record Driver(String type, List<String> command) {}

    private final Path work;
    private final BackupExport export;
    private final List<Process> processes = new ArrayList<>();
    private final List<Path> mounts = new ArrayList<>();
    private Path root;
    private String type;
    /** nbdkit serving one partition, when the disk has a partition table; it runs until stopped. */
    private Process partitionServer;

    private GuestFileSystem(Path work, BackupExport export) {
        this.work = work;
        this.export = export;
    }

    /** Exports {@code diskId} of the backup privately and mounts the file system on it. */
    public static GuestFileSystem mount(Repository repo, long backupId, String diskId, OptionalInt partition, long cacheBytes)
            throws IOException {
        Path work = Files.createTempDirectory("blockmover-files-");
        BackupExport export;
        try {
            export = BackupExport.start(repo, new ExportOptions(backupId, Optional.of(diskId),
                    UnixDomainSocketAddress.of(work.resolve("nbd.sock")), true, Optional.of(work.resolve("overlay")),
                    Optional.empty(), cacheBytes));
        } catch (IOException | RuntimeException e) {
            deleteTree(work);
            throw e;
        }
        GuestFileSystem fs = new GuestFileSystem(work, export);
        try {
            fs.mountAll(diskId, partition);
            return fs;
        } catch (IOException | RuntimeException e) {
            fs.close();
            throw e;
        } catch (InterruptedException e) {
            fs.close();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while mounting the guest file system", e);
        }
    }

    private void mountAll(String diskId, OptionalInt partition) throws IOException, InterruptedException {
        Path image = showAsFile("dev", export.uris().getFirst());
        Probe disk = probe(image);
        if (!disk.partitionTable().isEmpty() && disk.fileSystem().isEmpty()) {
            Partition p = choose(image, disk.partitionTable(), partition, diskId);
            Path socket = work.resolve("partition.sock");
            Path pidFile = work.resolve("nbdkit.pid");
            URI uri = URI.create(export.uris().getFirst());
            partitionServer = start("nbdkit", List.of("nbdkit", "-f", "-U", socket.toString(), "-P", pidFile.toString(), "--filter=partition",
                    "nbd", "socket=" + uri.getQuery().substring("socket=".length()), "export=" + uri.getPath().substring(1),
                    "partition=" + p.number()));
            awaitFile(pidFile);
            image = showAsFile("part", "nbd+unix:///?socket=" + socket);
            disk = probe(image);
        } else if (partition.isPresent()) {
            throw new IllegalArgumentException("disk " + diskId + " has no partition table; leave out --partition");
        }
        type = disk.fileSystem();
        Driver driver = switch (type) {
            case "ext2", "ext3", "ext4" -> new Driver(type, List.of("fuse2fs", "-f", "-o", "ro,fakeroot"));
            case "ntfs" -> new Driver(type, List.of("ntfs-3g", "-o", "ro,no_detach"));
            default -> throw new IOException("disk " + diskId + (partition.isPresent() ? " partition " + partition.getAsInt() : "")
                    + " holds " + (type.isEmpty() ? "no file system blkid knows" : "a " + type + " file system")
                    + "; file-level restore reads ext2/3/4 and NTFS");
        };
        if (type.startsWith("ext")) {
            replayJournal(image);
        }
        Path fsDir = Files.createDirectories(work.resolve("fs"));
        List<String> cmd = new ArrayList<>(driver.command());
        cmd.add(image.toString());
        cmd.add(fsDir.toString());
        start(driver.command().getFirst(), cmd);
        mounts.addFirst(fsDir);
        awaitMounted(fsDir, null);
        root = fsDir;
    }

    /** Replays an ext3/4 journal into the overlay; does nothing (and writes nothing) when none needs replaying. */
    private void replayJournal(Path image) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("e2fsck", "-E", "journal_only", "-y", image.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        // 0: nothing to do, 1: the journal was replayed; anything else is a file system e2fsck could not recover.
        if (p.waitFor() > 1) {
            throw new IOException("the guest's ext journal cannot be replayed (e2fsck exit " + p.exitValue() + "): " + out.strip());
        }
    }

    /** Shows an NBD export as the file {@code <name>/disk} through nbdfuse, once mounted. */
    private Path showAsFile(String name, String uri) throws IOException, InterruptedException {
        Path dir = Files.createDirectories(work.resolve(name));
        Path image = dir.resolve("disk");
        start("nbdfuse-" + name, List.of("nbdfuse", image.toString(), uri));
        mounts.addFirst(dir);
        awaitMounted(dir, image);
        return image;
    }

    /** What blkid finds at the start of an image (or at {@code offset}): a file system type, a partition table type. */
    private record Probe(String fileSystem, String partitionTable) {}

    private static Probe probe(Path image) throws IOException, InterruptedException {
        return probe(image, 0);
    }

    private static Probe probe(Path image, long offset) throws IOException, InterruptedException {
        String out = run(List.of("blkid", "-p", "-o", "export", "-O", Long.toString(offset), image.toString()), true);
        String fsType = "";
        String ptType = "";
        for (String line : out.split("\n")) {
            if (line.startsWith("TYPE=")) {
                fsType = line.substring(5).trim();
            } else if (line.startsWith("PTTYPE=")) {
                ptType = line.substring(7).trim();
            }
        }
        return new Probe(fsType, ptType);
    }

    /** One partition as partx lists it, with what blkid finds in it. */
    private record Partition(int number, long startBytes, long sizeBytes, String fileSystem) {
        @Override
        public String toString() {
            return number + " (" + (fileSystem.isEmpty() ? "unknown" : fileSystem) + ", " + (sizeBytes >> 20) + " MiB)";
        }
    }

    /** The partition asked for, else the only one holding a file system we read; refuses to guess between several. */
    private static Partition choose(Path image, String table, OptionalInt wanted, String diskId) throws IOException, InterruptedException {
        List<Partition> all = new ArrayList<>();
        String out = run(List.of("partx", "-s", "-g", "-b", "-o", "NR,START,SIZE", image.toString()), false);
        for (String line : out.strip().split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 3) {
                long start = Long.parseLong(f[1]) * 512; // partx counts 512-byte sectors on an image file
                all.add(new Partition(Integer.parseInt(f[0]), start, Long.parseLong(f[2]), probe(image, start).fileSystem()));
            }
        }
        if (wanted.isPresent()) {
            return all.stream().filter(p -> p.number() == wanted.getAsInt()).findFirst().orElseThrow(() ->
                    new IllegalArgumentException("disk " + diskId + " has no partition " + wanted.getAsInt() + "; its " + table
                            + " partitions are " + all));
        }
        List<Partition> readable = all.stream().filter(p -> SUPPORTED.contains(p.fileSystem())).toList();
        if (readable.size() != 1) {
            throw new IllegalArgumentException("disk " + diskId + " has " + table + " partitions " + all
                    + "; choose one with --partition N");
        }
        return readable.getFirst();
    }

    private static final List<String> SUPPORTED = List.of("ext2", "ext3", "ext4", "ntfs");

    /** Runs a tool to its end and returns its output; fails on a non-zero exit unless {@code anyExit}. */
    private static String run(List<String> cmd, boolean anyExit) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0 && !anyExit) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out.strip());
        }
        return out;
    }

    private void awaitFile(Path file) throws IOException, InterruptedException {
        Process p = processes.getLast();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MOUNT_WAIT_MILLIS);
        while (!Files.exists(file) || Files.size(file) == 0) {
            if (!p.isAlive()) {
                throw new IOException(p.info().command().orElse("nbdkit") + " failed: " + lastLines(p));
            }
            if (System.nanoTime() > deadline) {
                throw new IOException(file + " did not appear within " + MOUNT_WAIT_MILLIS + " ms");
            }
            Thread.sleep(20);
        }
    }

    private Process start(String name, List<String> cmd) throws IOException {
        Path log = work.resolve(name + ".log");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            processes.add(p);
            return p;
        } catch (IOException e) {
            throw new IOException("cannot run " + name + " (" + e.getMessage() + "); file-level restore needs it installed", e);
        }
    }

    /** Waits until {@code dir} is a mount point (and {@code file} in it exists), or its process ended. */
    private void awaitMounted(Path dir, Path file) throws IOException, InterruptedException {
        Process p = processes.getLast();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MOUNT_WAIT_MILLIS);
        String target = " " + dir.toAbsolutePath() + " ";
        while (System.nanoTime() < deadline) {
            if (Files.readString(Path.of("/proc/self/mountinfo")).contains(target) && (file == null || Files.exists(file))) {
                return;
            }
            if (!p.isAlive()) {
                throw new IOException(p.info().command().orElse("mount") + " failed: " + lastLines(p));
            }
            Thread.sleep(20);
        }
        throw new IOException("the guest file system did not mount within " + MOUNT_WAIT_MILLIS + " ms");
    }

    private String lastLines(Process p) throws IOException {
        try (Stream<Path> logs = Files.list(work)) {
            return logs.filter(f -> f.toString().endsWith(".log")).map(f -> {
                try {
                    return Files.readString(f).strip();
                } catch (IOException e) {
                    return "";
                }
            }).filter(s -> !s.isEmpty()).reduce((a, b) -> a + "; " + b).orElse("exit code " + p.exitValue());
        }
    }

    /** The guest's root directory, mounted read-only. */
    public Path root() {
        return root;
    }

    /** What blkid calls the file system (ext4, ntfs, ...). */
    public String type() {
        return type;
    }

    /** A guest path (absolute, '/'-separated) under {@link #root()}; refuses paths that climb out of it. */
    public Path resolve(String guestPath) {
        Path p = root;
        for (String part : guestPath.split("/")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                throw new IllegalArgumentException("guest paths may not contain '..': " + guestPath);
            }
            p = p.resolve(part);
        }
        return p;
    }

    @Override
    public void close() throws IOException {
        for (Path m : mounts) {
            unmount(m);
        }
        if (partitionServer != null) {
            partitionServer.destroy();
        }
        for (Process p : processes.reversed()) {
            try {
                if (!p.waitFor(5, TimeUnit.SECONDS)) {
                    p.destroy();
                    p.waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
            }
        }
        export.close();
        deleteTree(work);
    }

    private static void unmount(Path dir) throws IOException {
        try {
            Process p = new ProcessBuilder("fusermount", "-u", dir.toString()).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            p.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
