package io.blockmover.mover.cli;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.export.BackupExport;
import io.blockmover.mover.export.ExportOptions;
import io.blockmover.nbd.server.ServerTls;
import picocli.CommandLine.ArgGroup;
import io.blockmover.nbd.units.Sizes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code blockmover export}: serves the disks of a backup as NBD exports (instant restore) until
 * SIGTERM or Ctrl-C. Prints one NBD URI per disk, then {@code ready}. Like every command that
 * changes a repository it holds the repository's lock while it runs; the proxy
 * ({@code serve}, StartExport) exports beside backups and prune instead.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Serve the disks of a backup as NBD exports (instant restore), one export per disk.")
final class ExportCommand implements Callable<Integer> {
    private static final long SHUTDOWN_GRACE_SECONDS = 30;

    @Mixin
    RepositoryOptions repository;

    @Mixin
    BackupSelection selection;

    static final class Endpoint {
        @Option(names = "--listen", paramLabel = "HOST:PORT", description = "TCP address to serve on (default 127.0.0.1:10809).")
        String listen;

        @Option(names = "--socket", paramLabel = "PATH", description = "Serve on this Unix socket instead.")
        Path socket;
    }

    @ArgGroup(exclusive = true)
    Endpoint endpoint;

    @Option(names = "--writable", description = "Accept writes, kept in a sparse overlay beside the repository "
            + "(the backup never changes); a restart with the same arguments continues from it. Without it writes fail with EPERM.")
    boolean writable;

    @Option(names = "--overlay-dir", paramLabel = "DIR",
            description = "Where --writable keeps overlays (default: <repo>.overlays beside the repository; never inside it).")
    Path overlayDir;

    @Option(names = "--cache-size", paramLabel = "SIZE", defaultValue = "64M",
            description = "Decoded, checked chunks kept in memory (off the heap) for small reads (a booting guest's 4 KiB reads) "
                    + "and for chunks copied a second time, e.g. 256M, or the disk's data size to serve repeated copies "
                    + "from memory; 0: none (default ${DEFAULT-VALUE}).")
    String cacheSize;

    @picocli.CommandLine.Mixin
    ServerTlsOptions tls;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Optional<ServerTls> serverTls = tls.serverTls(); // bad flags fail before the repository is locked
        SocketAddress listen = endpoint != null && endpoint.socket != null ? UnixDomainSocketAddress.of(endpoint.socket)
                : EsxSimCommand.address(endpoint != null && endpoint.listen != null ? endpoint.listen : "127.0.0.1:10809", "--listen");
        long cache = Sizes.parseBytes(cacheSize);
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            stop.countDown();
            try {
                closed.await(SHUTDOWN_GRACE_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "export-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try (Repository repo = repository.open()) {
            BackupRecord backup = selection.backup(repo);
            ExportOptions options = new ExportOptions(backup.id(), Optional.ofNullable(selection.disk), listen, writable,
                    Optional.ofNullable(overlayDir), serverTls, cache);
            try (BackupExport export = BackupExport.start(repo, options)) {
                PrintWriter out = spec.commandLine().getOut();
                PrintWriter err = spec.commandLine().getErr();
                err.println("export: backup " + backup.id() + " of " + backup.vmId() + " on " + export.endpoint()
                        + (export.writable() ? ", writable, overlays in " + export.overlayDir().orElseThrow() : ", read-only"));
                err.flush();
                export.uris().forEach(out::println);
                out.println("ready");
                out.flush();
                stop.await();
            }
        } finally {
            closed.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is already shutting down: the hook is running and waits for us
            }
        }
        return 0;
    }
}
