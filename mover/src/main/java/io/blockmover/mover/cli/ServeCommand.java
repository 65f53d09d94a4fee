package io.blockmover.mover.cli;

import io.blockmover.index.repo.Repository;
import io.blockmover.mover.api.MetricsEndpoint;
import io.blockmover.mover.api.ProxyServer;
import io.blockmover.mover.api.ProxyService;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code blockmover serve}: the backup proxy a scheduler drives, a gRPC service
 * ({@code blockmover.v1.BackupProxy}, see mover/src/main/proto) over one repository. Runs in the
 * foreground until SIGTERM or Ctrl-C, which cancel the running jobs (nothing partial is kept)
 * before the repository is closed.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Run the backup proxy: a gRPC service for schedulers over one repository.")
final class ServeCommand implements Callable<Integer> {
    private static final long SHUTDOWN_GRACE_SECONDS = 60;

    @Mixin
    RepositoryOptions repository;

    @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:50051",
            description = "Where the gRPC service listens (default ${DEFAULT-VALUE}).")
    String listen;

    @Option(names = "--grpc-tls-cert", paramLabel = "PEM",
            description = "Serve gRPC over TLS with this certificate (needs --grpc-tls-key); plaintext without it.")
    Path tlsCert;

    @Option(names = "--grpc-tls-key", paramLabel = "PEM", description = "The private key of --grpc-tls-cert (PKCS#8).")
    Path tlsKey;

    @Option(names = "--grpc-tls-client-ca", paramLabel = "PEM",
            description = "Require client certificates issued by this CA (mutual TLS): only schedulers holding one may call.")
    Path tlsClientCa;

    @Option(names = "--restore-dir", paramLabel = "DIR",
            description = "Restores may write files only inside DIR (created if missing); without it, only to NBD exports.")
    Path restoreDir;

    @Option(names = "--metrics", paramLabel = "HOST:PORT",
            description = "Serve Prometheus metrics at http://HOST:PORT/metrics (default: none).")
    String metrics;

    @Option(names = "--max-jobs", paramLabel = "N", defaultValue = "2",
            description = "Backups, restores and verifies run at once; later calls wait (default ${DEFAULT-VALUE}).")
    int maxJobs;

    @Mixin
    PipelineOptions pipeline;

    @Mixin
    ConnectionOptions connection;

    @Override
    public Integer call() throws Exception {
        Optional<ProxyServer.Tls> tls = tls(); // a bad flag fails before the repository is locked
        CountDownLatch serverStopped = new CountDownLatch(1);
        CountDownLatch repositoryClosed = new CountDownLatch(1);
        try (Repository repo = repository.open();
             ProxyService service = new ProxyService(repo, pipeline.settings(), connection.access(pipeline.connections), maxJobs,
                     Optional.ofNullable(restoreDir));
             MetricsEndpoint scrape = metrics == null ? null
                     : MetricsEndpoint.start(EsxSimCommand.address(metrics, "--metrics"), service.metrics())) {
            ProxyServer server = ProxyServer.start(EsxSimCommand.address(listen, "--listen"), service, tls);
            // The JVM halts when its shutdown hooks return: this one holds it until main has closed the repository.
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    server.close();
                    serverStopped.countDown();
                    repositoryClosed.await(SHUTDOWN_GRACE_SECONDS, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "proxy-shutdown"));
            System.out.println("blockmover proxy: grpc" + (tls.isPresent() ? "s " : " ") + server.address().getHostString()
                    + ":" + server.address().getPort() + ", repository " + repo.root().toAbsolutePath());
            if (scrape != null) {
                System.out.println("metrics http://" + scrape.address().getHostString() + ":" + scrape.address().getPort() + "/metrics");
            }
            System.out.println("ready");
            System.out.flush();
            server.awaitTermination();
            serverStopped.await();
        } finally {
            repositoryClosed.countDown();
        }
        return 0;
    }

    private Optional<ProxyServer.Tls> tls() {
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new IllegalArgumentException("--grpc-tls-cert and --grpc-tls-key go together");
        }
        if (tlsCert == null && tlsClientCa != null) {
            throw new IllegalArgumentException("--grpc-tls-client-ca needs --grpc-tls-cert and --grpc-tls-key");
        }
        return tlsCert == null ? Optional.empty() : Optional.of(new ProxyServer.Tls(tlsCert, tlsKey, Optional.ofNullable(tlsClientCa)));
    }
}
