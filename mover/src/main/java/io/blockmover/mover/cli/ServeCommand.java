package io.blockmover.mover.cli;

import io.blockmover.mover.vsphere.VcenterConnection;
import io.blockmover.mover.vsphere.NbdSnapshotTransport;
import io.blockmover.mover.api.VcenterBackups;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.mover.vsphere.VmInfo;
import io.blockmover.mover.vsphere.VmSelector;
import io.blockmover.mover.vsphere.VsphereControl;

import io.blockmover.index.repo.Repository;
import io.blockmover.mover.api.Credentials;
import io.blockmover.mover.api.JobLimits;
import io.blockmover.mover.api.ProxyServer;
import io.blockmover.mover.api.ProxyService;
import io.blockmover.mover.api.ListenCheck;
import io.blockmover.mover.api.Role;
import io.blockmover.mover.api.SourcePolicy;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code blockmover serve}: the backup proxy a scheduler drives, a gRPC service
 * ({@code blockmover.v1.BackupProxy}, see mover/src/main/proto) over one repository. Runs in the
 * foreground until SIGTERM or Ctrl-C, which cancel the running jobs (nothing partial is kept)
 * before the repository is closed. Every flag can come from the config file's {@code serve:} section.
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
            description = "Accept client certificates issued by this CA (mutual TLS); required of every client unless --token-file is given too.")
    Path tlsClientCa;

    @Option(names = "--token-file", paramLabel = "FILE",
            description = "Bearer tokens clients may present, one 'ROLE TOKEN' a line (role operator or reader); several for rotation.")
    Path tokenFile;

    @Option(names = "--client-role", paramLabel = "ROLE:SUBJECT",
            description = "The role of a client certificate's subject, e.g. 'reader:CN=dashboard,O=Example' (repeatable). "
                    + "Without any, every certificate of the client CA is an operator's.")
    List<String> clientRoles = List.of();

    @Option(names = "--no-auth",
            description = "Take every call without credentials, as an operator's; only on a loopback --listen.")
    boolean noAuth;

    @Option(names = "--restore-dir", paramLabel = "DIR",
            description = "Restores may write files only inside DIR (created if missing); without it, only to NBD exports.")
    Path restoreDir;

    @Option(names = "--allow-source", paramLabel = "HOST:PORT|DIR",
            description = "NBD servers backups and verifies may read from: HOST:PORT (* allowed in HOST, or as the port), "
                    + "or a directory whose Unix sockets are allowed. Repeat for each; none are allowed without it.")
    List<String> allowSources = new ArrayList<>();

    @Option(names = "--allow-restore-to", paramLabel = "HOST:PORT|DIR",
            description = "NBD servers restores may write to, in --allow-source's form; without it, restores go to files only.")
    List<String> allowRestoreTargets = new ArrayList<>();

    @Option(names = "--insecure-listen",
            description = "Allow plaintext gRPC on an address other than loopback (anyone who reaches it may call).")
    boolean insecureListen;

    @Option(names = "--metrics", paramLabel = "[HOST:]PORT",
            description = "Serve Prometheus metrics at http://HOST:PORT/metrics; a bare port listens on 127.0.0.1 (default: none).")
    String metrics;

    @Option(names = "--max-jobs", paramLabel = "N", defaultValue = "2",
            description = "Jobs running at once; later ones wait in order (default ${DEFAULT-VALUE}).")
    int maxJobs;

    @Option(names = "--max-disks", paramLabel = "N", defaultValue = "16",
            description = "Disks being backed up, restored or verified at once over all jobs (default ${DEFAULT-VALUE}).")
    int maxDisks;

    @Option(names = "--max-connections-per-host", paramLabel = "N", defaultValue = "" + JobLimits.DEFAULT_CONNECTIONS_PER_HOST,
            description = "NBD connections open at once to one source host (ESXi hosts cap NFC connections for everyone; "
                    + "default ${DEFAULT-VALUE}).")
    int maxConnectionsPerHost;

    @Option(names = "--max-queue", paramLabel = "N", defaultValue = "1000",
            description = "Jobs waiting beyond the running ones; more are refused with RESOURCE_EXHAUSTED (default ${DEFAULT-VALUE}).")
    int maxQueue;

    @Option(names = "--job-table", paramLabel = "DIR",
            description = "Where the job table is kept (default: proxy-jobs inside the repository).")
    Path jobTable;

    @Option(names = "--nbd-tls-cert", paramLabel = "PEM", description = "Serve StartExport's NBD exports with STARTTLS, this certificate chain.")
    Path nbdTlsCert;

    @Option(names = "--nbd-tls-key", paramLabel = "PEM", description = "The private key (PKCS#8) of --nbd-tls-cert.")
    Path nbdTlsKey;

    @Option(names = "--nbd-tls-ca", paramLabel = "PEM", description = "Exports require client certificates signed by this CA.")
    Path nbdTlsCa;

    @Option(names = "--nbd-tls-required", description = "Exports refuse clients that do not start TLS.")
    boolean nbdTlsRequired;

    @Mixin
    PipelineOptions pipeline;

    @Mixin
    ConnectionOptions connection;

    @Mixin
    VddkOptions vddk;

    /**
     * With --vcenter, snapshots that crashed jobs left are removed through vCenter at start, and
     * backups may name their VM by a selector instead of giving its disks.
     */
    @Mixin
    VcenterOptions vcenter;

    @Option(names = "--nbd-template", paramLabel = "URI",
            description = "With --vcenter: where snapshots' disks are served over NBD, as backup --nbd-template "
                    + "(default: the emulated host's exports).")
    String nbdTemplate;

    @Option(names = "--proxy-id", paramLabel = "ID", defaultValue = "default",
            description = "With --vcenter: marks this proxy's snapshots, as backup --proxy-id (default ${DEFAULT-VALUE}).")
    String proxyId;

    @Override
    public Integer call() throws Exception {
        // Bad flags fail before the repository is locked.
        Optional<ProxyServer.Tls> tls = tls();
        InetSocketAddress grpcAddress = EsxSimCommand.address(listen, "--listen");
        ListenCheck.check(grpcAddress, tls.isPresent(), insecureListen);
        SourcePolicy policy = SourcePolicy.of(allowSources, allowRestoreTargets);
        Credentials credentials = credentials(grpcAddress);
        JobLimits limits = new JobLimits(maxJobs, maxDisks, maxConnectionsPerHost, maxQueue);
        Optional<InetSocketAddress> metricsAddress = Optional.ofNullable(metrics).map(ServeCommand::metricsAddress);
        var exportTls = ServerTlsOptions.of(nbdTlsCert, nbdTlsKey, nbdTlsCa, nbdTlsRequired);
        CountDownLatch serverStopped = new CountDownLatch(1);
        CountDownLatch repositoryClosed = new CountDownLatch(1);
        HTTPServer scrape = null;
        NbdAccess nbd = connection.access(pipeline.connections);
        String snapshotExports = !vcenter.given() ? null : nbdTemplate != null ? nbdTemplate
                : NbdSnapshotTransport.emulatedHostTemplate(vcenter.endpoint().url());
        try (Repository repo = repository.open();
             VcenterConnection vc = vcenter.given() ? vcenter.connect() : null;
             ProxyService service = new ProxyService(repo, pipeline.settings(), nbd, limits,
                     Optional.ofNullable(restoreDir), jobTable != null ? jobTable : ProxyService.defaultJobTable(repo),
                     vc == null ? ProxyService.SnapshotRemover.NONE : snapshotRemover(new VsphereControl(vc, vcenter.retry())),
                     vddk.settings(), exportTls, policy, Optional.ofNullable(vc).map(c -> new VcenterBackups(
                             new VsphereControl(c, vcenter.retry()), new NbdSnapshotTransport(snapshotExports, nbd), proxyId)))) {
            if (metricsAddress.isPresent()) {
                scrape = service.metrics().serve(metricsAddress.get());
            }
            ProxyServer server = ProxyServer.start(grpcAddress, service, tls, credentials);
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
                    + ":" + server.address().getPort() + ", repository " + repository.describe());
            if (scrape != null) {
                System.out.println("metrics http://" + metricsAddress.get().getHostString() + ":" + scrape.getPort() + "/metrics");
            }
            System.out.println("ready");
            System.out.flush();
            server.awaitTermination();
            serverStopped.await();
        } finally {
            if (scrape != null) {
                scrape.close();
            }
            repositoryClosed.countDown();
        }
        return 0;
    }

    private Credentials credentials(InetSocketAddress grpcAddress) throws IOException {
        if (noAuth) {
            if (tokenFile != null || tlsClientCa != null) {
                throw new IllegalArgumentException("--no-auth goes with neither --token-file nor --grpc-tls-client-ca");
            }
            if (!grpcAddress.getAddress().isLoopbackAddress()) {
                throw new IllegalArgumentException("--no-auth is only for a loopback --listen, not " + listen);
            }
            return Credentials.none();
        }
        if (tokenFile == null && tlsClientCa == null) {
            throw new IllegalArgumentException("the proxy needs a way to know its callers: --token-file, --grpc-tls-client-ca, "
                    + "or --no-auth on a loopback address");
        }
        if (!clientRoles.isEmpty() && tlsClientCa == null) {
            throw new IllegalArgumentException("--client-role needs --grpc-tls-client-ca");
        }
        Map<String, Role> subjects = new LinkedHashMap<>();
        for (String r : clientRoles) {
            int colon = r.indexOf(':');
            if (colon <= 0) {
                throw new IllegalArgumentException("--client-role wants ROLE:SUBJECT, e.g. reader:CN=dashboard, got " + r);
            }
            subjects.put(r.substring(colon + 1), Role.parse(r.substring(0, colon)));
        }
        return Credentials.of(Optional.ofNullable(tokenFile), subjects);
    }

    private static InetSocketAddress metricsAddress(String value) {
        return value.matches("\\d+") ? new InetSocketAddress("127.0.0.1", Integer.parseInt(value))
                : EsxSimCommand.address(value, "--metrics");
    }

    /** Removes a VM's snapshot by name through vCenter; a snapshot already gone counts as removed. */
    static ProxyService.SnapshotRemover snapshotRemover(VsphereControl control) {
        return (vm, snapshot) -> {
            try {
                VmInfo info = control.inventory().get(VmSelector.parse("name:" + vm).resolve(control.connection(),
                        control.inventory()));
                Optional<VmInfo.SnapshotInfo> s = info.snapshot(snapshot);
                if (s.isPresent()) {
                    control.removeSnapshot(s.get().moref());
                }
            } catch (java.rmi.RemoteException e) {
                throw new java.io.IOException("removing snapshot " + snapshot + " of " + vm + ": " + e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while removing snapshot " + snapshot + " of " + vm);
            }
        };
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
