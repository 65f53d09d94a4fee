package io.blockmover.mover.cli;

import io.blockmover.mover.transport.RetryPolicy;
import io.blockmover.mover.transport.Timeouts;
import io.blockmover.mover.transport.nbd.ConnectOptions;
import io.blockmover.mover.transport.nbd.NbdAccess;
import io.blockmover.mover.transport.nbd.NbdUri;
import io.blockmover.mover.transport.nbd.TlsOptions;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Option;

/** The NBD connection options (TLS, timeouts, retries) every command that reaches an NBD export shares, as a mixin. */
final class ConnectionOptions {

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
