package io.blockmover.mover.export;

import io.blockmover.index.repo.Repository;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A guest file system of a backup, mounted read-only for file-level restore. Nothing here parses
 * a file system: the disk is exported on a private Unix socket, {@code nbdfuse} shows the export
 * as a file, {@code blkid} names the file system on it, and the kept readers mount it with FUSE
 * ({@code fuse2fs} for ext2/3/4, {@code ntfs-3g} for NTFS). Needs {@code /dev/fuse} and the right
 * to mount FUSE (root, or fusermount's setuid helper). Closing unmounts and stops everything.
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

    private GuestFileSystem(Path work, BackupExport export) {
        this.work = work;
        this.export = export;
    }

    /** Exports {@code diskId} of the backup privately and mounts the file system on it. */
    public static GuestFileSystem mount(Repository repo, long backupId, String diskId, long cacheBytes) throws IOException {
        Path work = Files.createTempDirectory("blockmover-files-");
        BackupExport export;
        try {
            export = BackupExport.start(repo, new ExportOptions(backupId, Optional.of(diskId),
                    UnixDomainSocketAddress.of(work.resolve("nbd.sock")), false, Optional.empty(), Optional.empty(), cacheBytes));
        } catch (IOException | RuntimeException e) {
            deleteTree(work);
            throw e;
        }
        GuestFileSystem fs = new GuestFileSystem(work, export);
        try {
            fs.mountAll(diskId);
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

    private void mountAll(String diskId) throws IOException, InterruptedException {
        Path devDir = Files.createDirectories(work.resolve("dev"));
        Path image = devDir.resolve("disk");
        start("nbdfuse", List.of("nbdfuse", "-r", image.toString(), export.uris().getFirst()));
        mounts.add(devDir);
        awaitMounted(devDir, image);
        type = probe(image);
        Driver driver = switch (type) {
            case "ext2", "ext3", "ext4" -> new Driver(type, List.of("fuse2fs", "-f", "-o", "ro,fakeroot"));
            case "ntfs" -> new Driver(type, List.of("ntfs-3g", "-o", "ro,no_detach"));
            default -> throw new IOException("disk " + diskId + " holds " + (type.isEmpty() ? "no file system blkid knows"
                    : "a " + type + " file system") + "; file-level restore reads ext2/3/4 and NTFS file systems on whole disks");
        };
        Path fsDir = Files.createDirectories(work.resolve("fs"));
        List<String> cmd = new ArrayList<>(driver.command());
        cmd.add(image.toString());
        cmd.add(fsDir.toString());
        start(driver.command().getFirst(), cmd);
        mounts.addFirst(fsDir);
        awaitMounted(fsDir, null);
        root = fsDir;
    }

    /** The file system type {@code blkid} finds on the image, or "" (a partition table alone says so). */
    private String probe(Path image) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("blkid", "-p", "-o", "export", image.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        String fsType = "";
        String ptType = "";
        for (String line : out.split("\n")) {
            if (line.startsWith("TYPE=")) {
                fsType = line.substring(5).trim();
            } else if (line.startsWith("PTTYPE=")) {
                ptType = line.substring(7).trim();
            }
        }
        if (fsType.isEmpty() && !ptType.isEmpty()) {
            throw new IOException("the disk has a " + ptType + " partition table; file-level restore reads a file system "
                    + "on the whole disk (partitions are not supported yet)");
        }
        return fsType;
    }

    private void start(String name, List<String> cmd) throws IOException {
        Path log = work.resolve(name + ".log");
        try {
            processes.add(new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start());
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
