package io.blockmover.mover.cli;

import io.blockmover.nbd.esx.EsxFaults;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.GuestWorkload;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.ImageContent;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.VirtualMachine;
import io.blockmover.nbd.server.ExportCatalog;
import io.blockmover.nbd.units.Sizes;

import java.util.List;
import java.util.ArrayList;
import java.io.IOException;
import io.blockmover.nbd.esx.sdk.SdkOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code blockmover esxsim}: runs the emulated ESX host in the foreground. Prints its export
 * names one per line, then {@code ready}; runs until killed (SIGTERM or Ctrl-C shut it down
 * cleanly). The listening addresses go to stderr so stdout stays a clean list.
 */
@Command(name = "esxsim", mixinStandardHelpOptions = true,
        description = "Run the emulated ESX host: thin VM disks with snapshots and CBT as NBD exports.")
public final class EsxSimCommand implements Callable<Integer> {

    @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:10809",
            description = "NBD address (default ${DEFAULT-VALUE}; port 0 picks a free one).")
    String listen;

    @Option(names = "--vms", paramLabel = "N", defaultValue = "2", description = "Number of VMs (vm01, vm02, ...; default ${DEFAULT-VALUE}).")
    int vms;

    @Option(names = "--disks-per-vm", paramLabel = "N", defaultValue = "2", description = "Disks per VM (device keys 2000, 2001, ...; default ${DEFAULT-VALUE}).")
    int disksPerVm;

    @Option(names = "--independent-disks", paramLabel = "N", defaultValue = "0",
            description = "Make the last N disks of each VM independent_persistent (no snapshots, no CBT).")
    int independentDisks;

    @Option(names = "--rdm-disks", paramLabel = "N", defaultValue = "0",
            description = "Make the N disks before the independent ones physical-mode RDMs (no snapshots, no CBT).")
    int rdmDisks;

    @Option(names = "--sdk", paramLabel = "HOST:PORT",
            description = "Serve the vSphere API (SOAP over HTTPS at /sdk) on this address, e.g. 127.0.0.1:8443.")
    String sdk;

    @Option(names = "--sdk-user", paramLabel = "NAME",
            description = "The one user of the vSphere API (default " + SdkOptions.DEFAULT_USER + ", password "
                    + SdkOptions.DEFAULT_PASSWORD + ").")
    String sdkUser;

    @Option(names = "--sdk-password-file", paramLabel = "FILE", description = "The --sdk-user's password (first line).")
    Path sdkPasswordFile;

    @Option(names = "--sdk-cert", paramLabel = "PEM", description = "Certificate chain of the vSphere API (default: self-signed).")
    Path sdkCert;

    @Option(names = "--sdk-key", paramLabel = "PEM", description = "PKCS#8 private key of --sdk-cert.")
    Path sdkKey;

    @Option(names = "--sdk-session-timeout", paramLabel = "DURATION", defaultValue = "30m",
            description = "Idle time after which a vSphere API session expires (default ${DEFAULT-VALUE}).")
    String sdkSessionTimeout;

    @Option(names = "--sdk-changed-areas-page", paramLabel = "SIZE", defaultValue = "4G",
            description = "Disk bytes one QueryChangedDiskAreas answer covers at most (default ${DEFAULT-VALUE}).")
    String sdkChangedAreasPage;

    @Option(names = "--disk-size", paramLabel = "SIZE", defaultValue = "64G", description = "Capacity of each thin disk (default ${DEFAULT-VALUE}).")
    String diskSize;

    @Option(names = "--profile", paramLabel = "PROFILE", defaultValue = "mixed",
            description = "Content: empty, zero, duplicate, text, random, mixed, or weights like hole=30,text=70 (default ${DEFAULT-VALUE}).")
    String profile;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "42", description = "Seed of all generated content and uuids (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--no-cbt", description = "Start with changed block tracking off.")
    boolean noCbt;

    @picocli.CommandLine.Mixin
    ServerTlsOptions tls;

    @Option(names = "--churn", paramLabel = "RATE", defaultValue = "0",
            description = "Guest workload write rate, e.g. 20MB/s (default: idle).")
    String churn;

    @Option(names = "--churn-pattern", paramLabel = "PATTERN", defaultValue = "random",
            description = "Where the guest workload writes: random or sequential (default ${DEFAULT-VALUE}).")
    String churnPattern;

    @Option(names = "--snapshot", arity = "0..1", fallbackValue = "snap-1", paramLabel = "NAME",
            description = "Create a snapshot on every VM at start (name default ${FALLBACK-VALUE}).")
    String snapshot;

    @Option(names = "--control", paramLabel = "HOST:PORT",
            description = "Serve the JSON control API (snapshot, changed areas, churn, faults) on this address.")
    String control;

    @Option(names = "--latency", paramLabel = "DURATION", description = "Fault: added latency per request, e.g. 5ms.")
    String latency;

    @Option(names = "--rate-limit", paramLabel = "RATE", description = "Fault: server bandwidth limit, e.g. 100MB/s.")
    String rateLimit;

    @Option(names = "--read-error", paramLabel = "OFFSET:LENGTH[:EXPORT]",
            description = "Fault: reads touching this range fail with EIO (repeatable).")
    String[] readErrors = new String[0];

    @Option(names = "--drop-after-requests", paramLabel = "N", description = "Fault: drop the connection of the request after the N-th (once).")
    Long dropAfterRequests;

    @Option(names = "--drop-after-bytes", paramLabel = "SIZE", description = "Fault: drop the connection once this much data has moved (once).")
    String dropAfterBytes;

    @Option(names = "--image", paramLabel = "FILE",
            description = "Also serve this raw disk image as the one disk of a VM named after the file "
                    + "(e.g. ref.raw: VM ref, export ref/disk-2000); writes go to an overlay, never to the file. Repeatable.")
    List<Path> images = new ArrayList<>();

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        HostSpec hostSpec = new HostSpec(seed, vms, disksPerVm, io.blockmover.nbd.units.Sizes.parseBytes(diskSize),
                Profile.parse(profile), !noCbt, independentDisks, rdmDisks);
        EsxSimulator.Options options = new EsxSimulator.Options(hostSpec, address(listen, "--listen"), tls.serverTls(),
                Optional.ofNullable(control).map(c -> address(c, "--control")),
                io.blockmover.nbd.units.Sizes.parseRate(churn), GuestWorkload.Pattern.parse(churnPattern),
                Optional.ofNullable(snapshot), sdkOptions());
        CountDownLatch stopped = new CountDownLatch(1);
        List<ImageContent> opened = new ArrayList<>();
        EsxSimulator sim = EsxSimulator.start(options);
        Thread hook = new Thread(() -> {
            sim.close();
            closeAll(opened);
            stopped.countDown();
        }, "esxsim-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            for (Path image : images) {
                ImageContent content = ImageContent.open(image);
                opened.add(content);
                VirtualMachine vm = sim.host().addImageVm(vmNameOf(image), content);
                if (!noCbt) {
                    vm.enableCbt();
                }
                if (snapshot != null) {
                    vm.createSnapshot(snapshot);
                }
            }
            applyFaults(sim.faults());
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            InetSocketAddress nbd = sim.nbdAddress();
            err.println("esxsim: nbd " + nbd.getHostString() + ":" + nbd.getPort()
                    + sim.controlUrl().map(u -> " control " + u).orElse(""));
            if (sim.sdk().isPresent()) {
                var endpoint = sim.sdk().get();
                err.println("esxsim: vSphere API " + endpoint.url() + " user " + options.sdk().orElseThrow().users().keySet()
                        .iterator().next() + (sdkPasswordFile == null ? " password " + SdkOptions.DEFAULT_PASSWORD : ""));
                err.println("esxsim: SHA-1 thumbprint " + endpoint.sha1Thumbprint());
                err.println("esxsim: SHA-256 thumbprint " + endpoint.sha256Thumbprint());
            }
            err.flush();
            for (ExportCatalog.Export e : sim.catalog().list()) {
                out.println(e.name());
            }
            out.println("ready");
            out.flush();
            stopped.await();
        } catch (IOException | RuntimeException | InterruptedException e) {
            Runtime.getRuntime().removeShutdownHook(hook);
            sim.close();
            closeAll(opened);
            throw e;
        }
        return 0;
    }

    /** A VM name from an image file name: its stem, with characters export names cannot carry replaced. */
    static String vmNameOf(Path image) {
        String stem = image.getFileName().toString().replaceFirst("\\.[^.]*$", "");
        String name = stem.replaceAll("[^A-Za-z0-9._-]", "-");
        name = name.substring(0, Math.min(64, name.length()));
        return name.isEmpty() || name.equals(".") || name.equals("..") ? "image" : name;
    }

    private static void closeAll(List<ImageContent> images) {
        for (ImageContent i : images) {
            try {
                i.close();
            } catch (IOException e) {
                // the process is ending; nothing was written to the image
            }
        }
    }

    private Optional<SdkOptions> sdkOptions() throws IOException {
        if (sdk == null) {
            if (sdkUser != null || sdkPasswordFile != null || sdkCert != null || sdkKey != null) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--sdk-* options need --sdk HOST:PORT");
            }
            return Optional.empty();
        }
        SdkOptions o = SdkOptions.defaults(address(sdk, "--sdk"))
                .withIdleTimeout(io.blockmover.nbd.units.Sizes.parseDuration(sdkSessionTimeout))
                .withChangedAreasPage(io.blockmover.nbd.units.Sizes.parseBytes(sdkChangedAreasPage));
        if (sdkUser != null || sdkPasswordFile != null) {
            if (sdkUser == null || sdkPasswordFile == null) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "--sdk-user and --sdk-password-file go together");
            }
            o = o.withUsers(java.util.Map.of(sdkUser, PasswordFiles.read(sdkPasswordFile)));
        }
        if (sdkCert != null || sdkKey != null) {
            if (sdkCert == null || sdkKey == null) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--sdk-cert and --sdk-key go together");
            }
            o = o.withCertificate(new SdkOptions.Certificate(sdkCert, sdkKey));
        }
        return Optional.of(o);
    }

    private void applyFaults(EsxFaults faults) {
        if (latency != null) {
            faults.latency(io.blockmover.nbd.units.Sizes.parseDuration(latency));
        }
        if (rateLimit != null) {
            faults.rateLimit(io.blockmover.nbd.units.Sizes.parseRate(rateLimit));
        }
        for (String r : readErrors) {
            String[] p = r.split(":", 3);
            if (p.length < 2) {
                throw new IllegalArgumentException("--read-error wants OFFSET:LENGTH[:EXPORT], got " + r);
            }
            faults.addReadError(new EsxFaults.ReadError(Optional.ofNullable(p.length == 3 ? p[2] : null),
                    io.blockmover.nbd.units.Sizes.parseBytes(p[0]), io.blockmover.nbd.units.Sizes.parseBytes(p[1])));
        }
        if (dropAfterRequests != null) {
            faults.dropAfterRequests(dropAfterRequests);
        }
        if (dropAfterBytes != null) {
            faults.dropAfterBytes(io.blockmover.nbd.units.Sizes.parseBytes(dropAfterBytes));
        }
    }

    static InetSocketAddress address(String hostPort, String option) {
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException(option + " wants HOST:PORT, got " + hostPort);
        }
        String host = hostPort.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        try {
            return new InetSocketAddress(host, Integer.parseInt(hostPort.substring(colon + 1)));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(option + " wants HOST:PORT, got " + hostPort);
        }
    }
}
