package io.blockmover.mover.cli;

import io.blockmover.nbd.server.ServerTls;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Optional;

/** The STARTTLS options of the commands that serve NBD (the emulated host, export). */
final class ServerTlsOptions {
    @Option(names = "--tls-cert", paramLabel = "PEM", description = "Server certificate chain; enables STARTTLS.")
    Path cert;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "Private key (PKCS#8) of --tls-cert.")
    Path key;

    @Option(names = "--tls-ca", paramLabel = "PEM", description = "Require client certificates signed by this CA.")
    Path ca;

    @Option(names = "--tls-required", description = "Refuse clients that do not start TLS.")
    boolean required;

    Optional<ServerTls> serverTls() {
        return of(cert, key, ca, required);
    }

    /** Checks that the options go together; empty without a certificate. */
    static Optional<ServerTls> of(Path cert, Path key, Path ca, boolean required) {
        if (cert == null && key == null) {
            if (ca != null || required) {
                throw new IllegalArgumentException("--tls-ca and --tls-required need --tls-cert and --tls-key");
            }
            return Optional.empty();
        }
        if (cert == null || key == null) {
            throw new IllegalArgumentException("--tls-cert and --tls-key go together");
        }
        return Optional.of(new ServerTls(cert, key, Optional.ofNullable(ca), required));
    }
}
