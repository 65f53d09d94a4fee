package io.blockmover.nbd.esx;

import io.blockmover.nbd.esx.sdk.SdkOptions;
import io.blockmover.nbd.esx.sdk.SdkServer;
import io.blockmover.nbd.server.NbdServer;
import io.blockmover.nbd.server.NbdServerConfig;
import io.blockmover.nbd.server.ServerTls;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * The whole emulated ESX host running: inventory, NBD server over its exports, fault injector,
 * guest workload and (optionally) the control API. What {@code blockmover esxsim} and
 * end-to-end tests start.
 */
public final class EsxSimulator implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EsxSimulator.class);

    /**
     * @param churn    guest workload rate in bytes per second (0 = idle)
     * @param pattern  where the guest workload writes
     * @param snapshot name of a snapshot to create on every VM at start, if any
     * @param sdk      the vSphere API endpoint (SOAP at /sdk), if it should run
     */
    public record Options(HostSpec host, InetSocketAddress listen, Optional<ServerTls> tls,
                          Optional<InetSocketAddress> control, long churn, GuestWorkload.Pattern pattern,
                          Optional<String> snapshot, Optional<SdkOptions> sdk) {
        public Options {
            if (churn < 0) {
                throw new IllegalArgumentException("churn must not be negative");
            }
        }

        public static Options plain(HostSpec host) {
            return new Options(host, new InetSocketAddress("127.0.0.1", 0), Optional.empty(), Optional.empty(), 0,
                    GuestWorkload.Pattern.RANDOM, Optional.empty(), Optional.empty());
        }

        public Options withControl(InetSocketAddress address) {
            return new Options(host, listen, tls, Optional.of(address), churn, pattern, snapshot, sdk);
        }

        public Options withTls(ServerTls serverTls) {
            return new Options(host, listen, Optional.of(serverTls), control, churn, pattern, snapshot, sdk);
        }

        public Options withSdk(SdkOptions options) {
            return new Options(host, listen, tls, control, churn, pattern, snapshot, Optional.of(options));
        }

        public Options withChurn(long bytesPerSecond) {
            return new Options(host, listen, tls, control, bytesPerSecond, pattern, snapshot, sdk);
        }
    }

    private final EsxHost host;
    private final EsxCatalog catalog;
    private final EsxFaults faults = new EsxFaults();
    private final GuestWorkload workload;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
    private NbdServer server;
    private EsxControlServer control;
    private SdkServer sdk;

    private EsxSimulator(Options options) {
        this.host = EsxHost.generate(options.host());
        this.catalog = new EsxCatalog(host);
        this.workload = new GuestWorkload(host, options.host().seed(), options.pattern());
    }

    public static EsxSimulator start(Options options) throws IOException {
        EsxSimulator sim = new EsxSimulator(options);
        try {
            options.snapshot().ifPresent(name -> sim.host.vms().forEach(vm -> vm.createSnapshot(name)));
            NbdServerConfig config = NbdServerConfig.plain(options.listen()).withFaults(sim.faults);
            if (options.tls().isPresent()) {
                config = config.withTls(options.tls().get());
            }
            sim.server = NbdServer.start(config, sim.catalog);
            if (options.control().isPresent()) {
                sim.control = EsxControlServer.start(options.control().get(), sim.host, sim.faults, sim.workload);
            }
            if (options.sdk().isPresent()) {
                sim.sdk = SdkServer.start(options.sdk().get(), sim.host, sim.faults);
            }
            if (options.churn() > 0) {
                sim.workload.rate(options.churn());
            }
            log.info("emulated ESX host on {} with {} VMs", sim.nbdAddress(), sim.host.vms().size());
            return sim;
        } catch (IOException | RuntimeException e) {
            sim.close();
            throw e;
        }
    }

    public EsxHost host() {
        return host;
    }

    public EsxCatalog catalog() {
        return catalog;
    }

    public EsxFaults faults() {
        return faults;
    }

    public GuestWorkload workload() {
        return workload;
    }

    public InetSocketAddress nbdAddress() {
        return server.localAddress();
    }

    /** NBD connections open now and at most at once, as the host counts them. */
    public io.blockmover.nbd.server.ConnectionCount connections() {
        return server.connectionCount();
    }

    /** The control API's base URL, when it runs. */
    public Optional<String> controlUrl() {
        return Optional.ofNullable(control).map(EsxControlServer::url);
    }

    /** The vSphere API endpoint, when it runs. */
    public Optional<SdkServer> sdk() {
        return Optional.ofNullable(sdk);
    }

    /** Stops everything; safe to call more than once (a shutdown hook and an error path may both). */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        workload.close();
        if (control != null) {
            control.close();
        }
        if (sdk != null) {
            sdk.close();
        }
        if (server != null) {
            server.close();
        }
    }
}
