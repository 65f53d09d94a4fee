package io.blockmover.nbd.server;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * X.509 TLS for the server, entered through NBD_OPT_STARTTLS.
 *
 * @param certificateChainPem the server certificate (then intermediates), PEM
 * @param privateKeyPem       its unencrypted PKCS#8 private key, PEM
 * @param clientCaPem         when present, clients must present a certificate signed by this CA
 * @param required            FORCEDTLS: every option but STARTTLS and ABORT is answered with
 *                            TLS_REQD until TLS is up, and EXPORT_NAME without TLS disconnects
 */
public record ServerTls(Path certificateChainPem, Path privateKeyPem, Optional<Path> clientCaPem, boolean required) {
    public ServerTls {
        Objects.requireNonNull(certificateChainPem, "certificateChainPem");
        Objects.requireNonNull(privateKeyPem, "privateKeyPem");
        Objects.requireNonNull(clientCaPem, "clientCaPem");
    }
}
