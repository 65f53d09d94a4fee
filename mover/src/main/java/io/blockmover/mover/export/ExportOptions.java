package io.blockmover.mover.export;

import io.blockmover.nbd.server.ServerTls;

import java.net.SocketAddress;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * What to export and how.
 *
 * @param backupId   the restore point
 * @param disk       only this disk; empty: every disk of the backup, one export each
 * @param listen     TCP address or Unix socket ({@link java.net.UnixDomainSocketAddress})
 * @param writable   guest writes go to an overlay beside the repository; else they fail with EPERM
 * @param overlayDir where overlays live; empty: {@code <repo>.overlays} next to the repository
 * @param tls        STARTTLS, as the emulated host offers it
 * @param cacheBytes decoded, digest-checked chunks kept off the heap for small reads and repeated copies (0: none)
 */
public record ExportOptions(long backupId, Optional<String> disk, SocketAddress listen, boolean writable,
                            Optional<Path> overlayDir, Optional<ServerTls> tls, long cacheBytes) {
    /** The default size of the decoded-chunk cache. */
    public static final long DEFAULT_CACHE_BYTES = 64L << 20;

    public ExportOptions {
        Objects.requireNonNull(disk, "disk");
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(overlayDir, "overlayDir");
        Objects.requireNonNull(tls, "tls");
        if (cacheBytes < 0) {
            throw new IllegalArgumentException("the chunk cache size must not be negative: " + cacheBytes);
        }
    }
}
