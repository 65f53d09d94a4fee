package io.blockmover.mover.vsphere;

import java.nio.file.Path;
import java.util.HexFormat;

/** How the vCenter certificate is checked: pinned by thumbprint, against a CA file, or (when asked) not at all. */
public sealed interface TrustPolicy {
    /** The SHA-256 of the server certificate's DER encoding, as {@code AB:CD:…} or plain hex. */
    record Thumbprint(byte[] sha256) implements TrustPolicy {
        public Thumbprint {
            if (sha256.length != 32) {
                throw new IllegalArgumentException("a SHA-256 thumbprint has 32 bytes, not " + sha256.length);
            }
            sha256 = sha256.clone();
        }

        public static Thumbprint parse(String text) {
            String hex = text.replace(":", "").strip();
            if (!hex.matches("[0-9A-Fa-f]{64}")) {
                throw new IllegalArgumentException("--thumbprint wants the SHA-256 thumbprint (64 hex digits, ':' allowed): "
                        + text);
            }
            return new Thumbprint(HexFormat.of().parseHex(hex));
        }
    }

    /** Certificates signed by the CA(s) in this PEM file, with host name verification. */
    record CaFile(Path pem) implements TrustPolicy {}

    /** Accept any certificate; only with {@code --insecure}, and the connection warns. */
    record Insecure() implements TrustPolicy {}
}
