package io.blockmover.mover.export;

import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.manifest.DiskRecord;
import io.blockmover.index.backup.BackupHolds;
import io.blockmover.index.repo.Repository;
import io.blockmover.nbd.server.BlockDevice;
import io.blockmover.nbd.server.ExportCatalog;
import io.blockmover.nbd.server.NbdServer;
import io.blockmover.nbd.server.NbdServerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * A restore point served as NBD exports, one per disk, named after the disk: instant restore.
 * While it runs the backup is held (prune keeps it) and read through one snapshot of the index
 * (gc deletes none of its packs). Served by the project's NBD server with the limits and checks
 * of the emulated host; writable exports keep guest writes in overlays outside the repository.
 */
public final class BackupExport implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BackupExport.class);

    private final long backupId;
    private final String vmId;
    private final List<ExportCatalog.Export> exports;
    private final List<Overlay> overlays;
    private final Optional<Path> overlayDir;
    private final boolean tls;
    private final boolean unix;
    private final BackupReader reader;
    private final BackupHolds.Hold hold;
    private final ChunkCache cache;
    private NbdServer server;
    private String endpoint;

    private BackupExport(long backupId, String vmId, List<ExportCatalog.Export> exports, List<Overlay> overlays,
                         Optional<Path> overlayDir, boolean tls, boolean unix, BackupReader reader, BackupHolds.Hold hold, ChunkCache cache) {
        this.backupId = backupId;
        this.vmId = vmId;
        this.exports = exports;
        this.overlays = overlays;
        this.overlayDir = overlayDir;
        this.tls = tls;
        this.unix = unix;
        this.reader = reader;
        this.hold = hold;
        this.cache = cache;
    }

    /** Opens the backup, its overlays if writable, and starts serving; fails with nothing left open. */
    public static BackupExport start(Repository repo, ExportOptions options) throws IOException {
        return start(repo, options, UnaryOperator.identity());
    }

    /** As {@link #start(Repository, ExportOptions)}, with the server's limits adjusted (tests shorten timeouts). */
    public static BackupExport start(Repository repo, ExportOptions options, UnaryOperator<NbdServerConfig> serverConfig)
            throws IOException {
        BackupHolds.Hold hold = repo.hold(options.backupId(), "exported");
        BackupReader reader = null;
        List<Overlay> overlays = new ArrayList<>();
        BackupExport export = null;
        try {
            reader = repo.openBackup(options.backupId());
            List<DiskRecord> disks = reader.record().disks();
            if (options.disk().isPresent()) {
                String wanted = options.disk().get();
                disks = disks.stream().filter(d -> d.diskId().equals(wanted)).toList();
                if (disks.isEmpty()) {
                    throw new IllegalArgumentException("backup " + options.backupId() + " has no disk " + wanted + " (it has "
                            + reader.record().disks().stream().map(DiskRecord::diskId).toList() + ")");
                }
            }
            Optional<Path> overlayDir = options.writable() ? Optional.of(overlayDir(repo, options.overlayDir())) : Optional.empty();
            ChunkCache cache = new ChunkCache(options.cacheBytes());
            List<ExportCatalog.Export> exports = new ArrayList<>();
            for (DiskRecord d : disks) {
                BackupDisk base = new BackupDisk(options.backupId(), reader.disk(d.diskId()), cache);
                BlockDevice device = base;
                String description = "backup " + options.backupId() + " of " + reader.record().vmId() + ", " + d.diskId();
                if (overlayDir.isPresent()) {
                    Overlay overlay = Overlay.open(overlayDir.get(), "backup-" + options.backupId() + "-" + safe(d.diskId()),
                            new Overlay.Identity(repo.config().repoId(), options.backupId(), d.diskId(), d.capacity(), d.chunkSize()));
                    overlays.add(overlay);
                    device = new OverlayDisk(base, overlay);
                    description += ", writes to " + overlay.dataFile();
                }
                exports.add(new ExportCatalog.Export(d.diskId(), description, device));
            }
            export = new BackupExport(options.backupId(), reader.record().vmId(), List.copyOf(exports), List.copyOf(overlays),
                    overlayDir, options.tls().isPresent(), options.listen() instanceof UnixDomainSocketAddress, reader, hold, cache);
            NbdServerConfig config = NbdServerConfig.plain(options.listen());
            if (options.tls().isPresent()) {
                config = config.withTls(options.tls().get());
            }
            if (options.listen() instanceof UnixDomainSocketAddress u && Files.exists(u.getPath())) {
                throw new IOException("the socket " + u.getPath() + " exists; is another export serving it?");
            }
            export.server = NbdServer.start(serverConfig.apply(config), export.catalog());
            export.endpoint = export.server.endpoint();
            LOG.info("exporting backup {} of {} ({} disk(s)) on {}", options.backupId(), export.vmId, exports.size(),
                    export.server.endpoint());
            return export;
        } catch (IOException | RuntimeException e) {
            if (export != null) {
                export.close();
            } else {
                for (Overlay o : overlays) {
                    closeQuietly(o);
                }
                if (reader != null) {
                    reader.close();
                }
                hold.close();
            }
            throw e;
        }
    }

    /** The overlay directory: never inside the repository, whose contents only the index may change. */
    static Path overlayDir(Repository repo, Optional<Path> chosen) throws IOException {
        Path root = repo.root().toAbsolutePath().normalize();
        Path dir = chosen.orElseGet(() -> root.resolveSibling(root.getFileName() + ".overlays")).toAbsolutePath().normalize();
        Path realRoot = root.toRealPath();
        Path existing = dir;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        Path real = existing == null ? dir : existing.toRealPath().resolve(existing.relativize(dir));
        if (real.startsWith(realRoot)) {
            throw new IllegalArgumentException("the overlay directory " + dir + " is inside the repository " + root
                    + "; choose one beside it");
        }
        return dir;
    }

    private static String safe(String diskId) {
        return diskId.replaceAll("[^A-Za-z0-9._-]", "_");
    }

    private ExportCatalog catalog() {
        return new ExportCatalog() {
            @Override
            public Optional<Export> find(String name) {
                if (name.isEmpty()) {
                    return exports.size() == 1 ? Optional.of(exports.getFirst()) : Optional.empty();
                }
                return exports.stream().filter(e -> e.name().equals(name)).findFirst();
            }

            @Override
            public List<Export> list() {
                return exports;
            }
        };
    }

    public long backupId() {
        return backupId;
    }

    public String vmId() {
        return vmId;
    }

    public boolean writable() {
        return !overlays.isEmpty();
    }

    public Optional<Path> overlayDir() {
        return overlayDir;
    }

    /** {@code HOST:PORT} or the Unix socket's path (where it was served, after close too). */
    public String endpoint() {
        return endpoint;
    }

    /** One NBD URI per disk, as qemu, nbdcopy and nbdinfo take them. */
    public List<String> uris() {
        String scheme = tls ? "nbds" : "nbd";
        return exports.stream().map(e -> unix
                ? scheme + "+unix:///" + e.name() + "?socket=" + endpoint()
                : scheme + "://" + endpoint() + "/" + e.name()).toList();
    }

    public List<String> diskIds() {
        return exports.stream().map(ExportCatalog.Export::name).toList();
    }

    /** Cache hits and misses so far. */
    public ChunkCache.Stats cacheStats() {
        return cache.stats();
    }

    /** Stops serving, makes overlay writes durable, and releases the backup. */
    @Override
    public synchronized void close() {
        if (server != null) {
            server.close();
            server = null;
        }
        for (Overlay o : overlays) {
            closeQuietly(o);
        }
        reader.close();
        cache.close();
        hold.close();
    }

    private static void closeQuietly(Overlay o) {
        try {
            o.close();
        } catch (IOException e) {
            LOG.error("cannot sync the overlay {} on close: {}", o.dataFile(), e.toString());
        }
    }
}
