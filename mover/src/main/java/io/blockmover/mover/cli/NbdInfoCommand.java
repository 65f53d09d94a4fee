package io.blockmover.mover.cli;

import static io.blockmover.nbd.protocol.NbdConstants.BASE_ALLOCATION;

import io.blockmover.mover.transport.RetryPolicy;
import io.blockmover.mover.transport.Timeouts;
import io.blockmover.mover.transport.nbd.ConnectOptions;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.mover.transport.nbd.ExportInfo;
import io.blockmover.mover.transport.nbd.NbdClient;
import io.blockmover.mover.transport.nbd.NbdDiskSource;
import io.blockmover.mover.transport.nbd.NbdUri;
import io.blockmover.mover.transport.nbd.TlsOptions;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code blockmover nbd-info URI}: what an NBD export offers, and optionally its map. */
@Command(name = "nbd-info", mixinStandardHelpOptions = true,
        description = "Show an NBD export's size, flags, block sizes and meta contexts (and its map with --map).")
public final class NbdInfoCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "URI", description = "nbd://host[:port]/export, nbds://, nbd+unix:///export?socket=PATH, nbds+unix://")
    String uri;

    @Option(names = "--map", description = "Print the extents of a meta context (see --context).")
    boolean map;

    @Option(names = "--context", paramLabel = "CONTEXT", defaultValue = BASE_ALLOCATION,
            description = "The meta context --map prints, e.g. qemu:dirty-bitmap:bm0 (default ${DEFAULT-VALUE}).")
    String context;

    @Mixin
    Connection connection;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        List<String> extra = context.equals(BASE_ALLOCATION) ? List.of() : List.of(context);
        ConnectOptions options = connection.options(1).withMetaContexts(extra).withListContexts(true);
        try (NbdClient client = NbdClient.connect(connection.uri(uri), options)) {
            if (map) {
                printMap(out, client, context);
            } else {
                printInfo(out, client.info(), client.uri());
            }
        }
        out.flush();
        return 0;
    }

    private static void printInfo(PrintWriter out, ExportInfo i, NbdUri uri) {
        out.printf("uri: %s%n", uri);
        out.printf("export: \"%s\"%n", i.exportName());
        if (!i.description().isEmpty()) {
            out.printf("description: %s%n", i.description());
        }
        out.printf("size: %d%n", i.size());
        out.printf("flags: 0x%x %s%n", i.transmissionFlags(), String.join(" ", i.flagNames()));
        out.printf("block sizes: minimum %d, preferred %d, maximum %d%s%n", i.blockConstraints().minimum(),
                i.blockConstraints().preferred(), i.blockConstraints().maximum(),
                i.serverSentBlockSizes() ? "" : " (protocol defaults; the server sent none)");
        out.printf("negotiation: %s, %s replies, TLS %s%n", i.usedGo() ? "GO" : "EXPORT_NAME",
                i.structuredReplies() ? "structured" : "simple", i.tls() ? "yes" : "no");
        for (String c : i.availableContexts()) {
            out.printf("context: %s%n", c);
        }
        if (i.availableContexts().isEmpty()) {
            i.metaContexts().keySet().forEach(c -> out.printf("context: %s%n", c));
        }
    }

    private static void printMap(PrintWriter out, NbdClient client, String context) throws Exception {
        if (!client.info().metaContexts().containsKey(context)) {
            throw new IllegalArgumentException("the server did not agree to meta context '" + context + "'"
                    + (client.info().structuredReplies() ? "" : " (it has no structured replies)"));
        }
        NbdDiskSource source = new NbdDiskSource(client);
        source.walk(context, 0, client.info().size(), (offset, length, flags) ->
                out.printf("%12d %12d %4d  %s%n", offset, length, flags, describe(context, flags))).get();
    }

    private static String describe(String context, int flags) {
        if (context.equals(BASE_ALLOCATION)) {
            return switch (flags & 3) {
                case 0 -> "data";
                case 1 -> "hole";
                case 2 -> "zero";
                default -> "hole,zero";
            };
        }
        return (flags & 1) != 0 ? "dirty" : "clean";
    }

    /** Connection options shared by the NBD commands. */
    static final class Connection {
        @Option(names = "--tls-ca", paramLabel = "FILE", description = "Trust server certificates issued by this CA (PEM).")
        Path ca;

        @Option(names = "--tls-cert", paramLabel = "FILE", description = "Client certificate (PEM); needs --tls-key.")
        Path cert;

        @Option(names = "--tls-key", paramLabel = "FILE", description = "Client private key (PEM, PKCS#8).")
        Path key;

        @Option(names = "--tls-fingerprint", paramLabel = "SHA256",
                description = "Trust only the server certificate with this SHA-256 fingerprint (hex, colons allowed).")
        String fingerprint;

        @Option(names = "--tls-insecure", description = "Do not verify the server certificate at all.")
        boolean insecure;

        @Option(names = "--connect-timeout", paramLabel = "SECONDS", defaultValue = "30",
                description = "Timeout for connecting and the handshake (default ${DEFAULT-VALUE}).")
        double connectTimeout;

        @Option(names = "--request-timeout", paramLabel = "SECONDS", defaultValue = "120",
                description = "Timeout for each reply; an overdue reply counts as a lost connection (default ${DEFAULT-VALUE}).")
        double requestTimeout;

        @Option(names = "--max-retries", paramLabel = "N", defaultValue = "5",
                description = "Reconnect attempts in a row after a lost connection (default ${DEFAULT-VALUE}).")
        int maxRetries;

        @Option(names = "--retry-wait", paramLabel = "SECONDS", defaultValue = "0.5",
                description = "Wait before the first reconnect, doubled each time up to 30 s (default ${DEFAULT-VALUE}).")
        double retryWait;

        NbdUri uri(String text) {
            NbdUri u = NbdUri.parse(text);
            boolean any = ca != null || cert != null || key != null || fingerprint != null || insecure;
            if (!any) {
                return u;
            }
            TlsOptions base = u.tlsOptions();
            return u.withTls(new TlsOptions(base.certificates(), ca != null ? ca : base.caFile(),
                    cert != null ? cert : base.certFile(), key != null ? key : base.keyFile(),
                    fingerprint != null ? TlsOptions.parseFingerprint(fingerprint) : base.fingerprint(),
                    !insecure && base.verifyPeer()));
        }

        NbdAccess access(int connections) {
            return new NbdAccess(this::uri, options(connections));
        }

        ConnectOptions options(int connections) {
            Duration wait = seconds(retryWait, "--retry-wait", true);
            Duration maxWait = wait.compareTo(Duration.ofSeconds(30)) > 0 ? wait : Duration.ofSeconds(30);
            return new ConnectOptions(connections, List.of(), false,
                    new Timeouts(seconds(connectTimeout, "--connect-timeout", false), seconds(requestTimeout, "--request-timeout", false)),
                    new RetryPolicy(maxRetries, wait, maxWait));
        }

        private static Duration seconds(double s, String name, boolean zeroOk) {
            if (Double.isNaN(s) || s < 0 || (!zeroOk && s == 0)) {
                throw new IllegalArgumentException(name + " must be " + (zeroOk ? "at least 0" : "positive") + ": " + s);
            }
            return Duration.ofNanos((long) (s * 1e9));
        }
    }
}
