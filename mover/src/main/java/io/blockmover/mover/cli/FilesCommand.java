package io.blockmover.mover.cli;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.export.GuestFileSystem;
import io.blockmover.nbd.units.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * {@code blockmover files ls|get}: file-level restore. Lists and copies files out of a backup's
 * guest file system (ext2/3/4, NTFS) without restoring the disk, through a private export and the
 * FUSE readers of {@link GuestFileSystem}.
 */
@Command(name = "files", mixinStandardHelpOptions = true,
        description = "List or copy files of a backup's guest file system (ext2/3/4, NTFS) without restoring the disk.",
        subcommands = {FilesCommand.Ls.class, FilesCommand.Get.class})
final class FilesCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** {@code files} alone: say which subcommands there are. */
    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "say what to do: files ls or files get (see files --help)");
    }

    /** The options both subcommands share: which disk of which backup. */
    static final class Source {
        @Mixin
        RepositoryOptions repository;

        @Mixin
        BackupSelection selection;

        @Option(names = "--partition", paramLabel = "N",
                description = "On a partitioned disk, this partition (as partx numbers them); default: the only one holding ext2/3/4 or NTFS.")
        Integer partition;

        @Option(names = "--cache-size", paramLabel = "SIZE", defaultValue = "64M",
                description = "Decoded chunks kept while reading (default ${DEFAULT-VALUE}).")
        String cacheSize;

        GuestFileSystem mount(Repository repo) throws IOException {
            BackupRecord backup = selection.backup(repo);
            List<DiskRecord> disks = selection.disks(backup);
            if (disks.size() != 1) {
                throw new IllegalArgumentException("backup " + backup.id() + " has " + disks.size() + " disks "
                        + disks.stream().map(DiskRecord::diskId).toList() + "; choose one with --disk");
            }
            return GuestFileSystem.mount(repo, backup.id(), disks.getFirst().diskId(),
                    partition == null ? OptionalInt.empty() : OptionalInt.of(partition), Sizes.parseBytes(cacheSize));
        }
    }

    @Command(name = "ls", mixinStandardHelpOptions = true,
            description = "List guest paths: one line per entry, type (d, -, l), size in bytes, path.")
    static final class Ls implements Callable<Integer> {
        @Mixin
        Source source;

        @Option(names = {"-r", "--recursive"}, description = "List directories' contents recursively.")
        boolean recursive;

        @Parameters(paramLabel = "PATH", arity = "0..*", description = "Guest paths (default /).")
        List<String> paths = List.of("/");

        @Override
        public Integer call() throws Exception {
            try (Repository repo = source.repository.open(); GuestFileSystem fs = source.mount(repo)) {
                PrintStream out = System.out;
                for (String guest : paths) {
                    Path p = existing(fs, guest);
                    if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                        try (Stream<Path> entries = recursive ? Files.walk(p).skip(1) : Files.list(p)) {
                            for (Path e : entries.sorted().toList()) {
                                out.println(line(fs, e));
                            }
                        }
                    } else {
                        out.println(line(fs, p));
                    }
                }
                return 0;
            }
        }

        private static String line(GuestFileSystem fs, Path p) throws IOException {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            String guest = "/" + fs.root().relativize(p).toString();
            if (a.isSymbolicLink()) {
                return "l " + a.size() + " " + guest + " -> " + Files.readSymbolicLink(p);
            }
            return (a.isDirectory() ? "d " : a.isRegularFile() ? "- " : "? ") + a.size() + " " + guest;
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true,
            description = "Copy guest files or directories (recursively) into a local directory, under their own names.")
    static final class Get implements Callable<Integer> {
        @Mixin
        Source source;

        @Option(names = "--to", paramLabel = "DIR", required = true, description = "Local directory to copy into (created if missing).")
        Path to;

        @Option(names = "--force", description = "Overwrite existing local files.")
        boolean force;

        @Parameters(paramLabel = "PATH", arity = "1..*", description = "Guest paths to copy.")
        List<String> paths;

        @Override
        public Integer call() throws Exception {
            try (Repository repo = source.repository.open(); GuestFileSystem fs = source.mount(repo)) {
                Files.createDirectories(to);
                long files = 0;
                long bytes = 0;
                for (String guest : paths) {
                    Path from = existing(fs, guest);
                    Path base = from.getParent() == null || from.equals(fs.root()) ? from : from.getParent();
                    try (Stream<Path> all = Files.walk(from)) {
                        for (Path src : all.toList()) {
                            Path dst = to.resolve(base.relativize(src).toString());
                            if (Files.isSymbolicLink(src)) {
                                replaceable(dst);
                                Files.createSymbolicLink(dst, Files.readSymbolicLink(src));
                            } else if (Files.isDirectory(src)) {
                                Files.createDirectories(dst);
                            } else if (Files.isRegularFile(src)) {
                                replaceable(dst);
                                Files.copy(src, dst, StandardCopyOption.REPLACE_EXISTING);
                                files++;
                                bytes += Files.size(dst);
                            }
                        }
                    }
                }
                System.out.println("copied " + files + " files (" + Sizes.human(bytes) + ") from " + fs.type() + " to " + to);
                return 0;
            }
        }

        private void replaceable(Path dst) throws IOException {
            if (Files.exists(dst, LinkOption.NOFOLLOW_LINKS)) {
                if (!force) {
                    throw new FileAlreadyExistsException(dst + " exists; add --force to overwrite");
                }
                Files.delete(dst);
            }
        }
    }

    private static Path existing(GuestFileSystem fs, String guest) throws IOException {
        Path p = fs.resolve(guest);
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            throw new NoSuchFileException("no " + guest + " in the guest's " + fs.type() + " file system");
        }
        return p;
    }
}
