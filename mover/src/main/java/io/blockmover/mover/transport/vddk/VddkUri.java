package io.blockmover.mover.transport.vddk;

import io.blockmover.nativebridge.vddk.ConnectSpec;

import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * A disk reached through VDDK without a vCenter lookup:
 * {@code vddk://[user@]host[:nfcport]/<vm moref>/<snapshot moref>/<disk path>[?thumbprint=SHA1]}.
 * The disk path is the datastore path, e.g. {@code [datastore1] vm01/vm01.vmdk} (percent-encoding
 * allowed, so {@code %20} for the space); a snapshot of {@code -} means the live disk (restores).
 * The password comes from the environment ({@code BLOCKMOVER_VDDK_PASSWORD}), never from the URI.
 */
public record VddkUri(String host, int nfcPort, String vmMoref, Optional<String> snapshotMoref, String diskPath,
                      Optional<String> user, Optional<String> thumbprint) {
    public static final String SCHEME = "vddk://";

    public static boolean isVddk(String text) {
        return text.startsWith(SCHEME);
    }

    public static VddkUri parse(String text) {
        if (!isVddk(text)) {
            throw new IllegalArgumentException("not a vddk:// URI: " + text);
        }
        String rest = text.substring(SCHEME.length());
        Optional<String> thumbprint = Optional.empty();
        int q = rest.indexOf('?');
        if (q >= 0) {
            for (String pair : rest.substring(q + 1).split("&")) {
                if (pair.startsWith("thumbprint=")) {
                    thumbprint = Optional.of(decode(pair.substring("thumbprint=".length())));
                } else if (!pair.isEmpty()) {
                    throw new IllegalArgumentException("unknown parameter '" + pair + "' in " + text + " (only thumbprint=)");
                }
            }
            rest = rest.substring(0, q);
        }
        String[] parts = rest.split("/", 4);
        if (parts.length < 4 || parts[0].isEmpty() || parts[1].isEmpty() || parts[2].isEmpty() || parts[3].isEmpty()) {
            throw new IllegalArgumentException("a vddk:// URI is vddk://[user@]host[:port]/<vm moref>/<snapshot moref or ->/<disk path>: "
                    + text);
        }
        String authority = parts[0];
        Optional<String> user = Optional.empty();
        int at = authority.lastIndexOf('@');
        if (at >= 0) {
            user = Optional.of(decode(authority.substring(0, at)));
            authority = authority.substring(at + 1);
        }
        int port = ConnectSpec.DEFAULT_NFC_PORT;
        int colon = authority.lastIndexOf(':');
        if (colon >= 0 && !authority.endsWith("]")) {
            try {
                port = Integer.parseInt(authority.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad port in " + text);
            }
            authority = authority.substring(0, colon);
        }
        Optional<String> snapshot = parts[2].equals("-") ? Optional.empty() : Optional.of(decode(parts[2]));
        return new VddkUri(authority, port, decode(parts[1]), snapshot, decode(parts[3]), user, thumbprint);
    }

    public ConnectSpec connectSpec(Optional<String> password) {
        return new ConnectSpec(host, ConnectSpec.DEFAULT_PORT, nfcPort, vmMoref, thumbprint, user, password);
    }

    /** A name for logs and results: VM, snapshot and disk. */
    public String describe() {
        return vmMoref + "/" + snapshotMoref.orElse("live") + " " + diskPath + " on " + host;
    }

    @Override
    public String toString() {
        return SCHEME + user.map(u -> encode(u) + "@").orElse("") + host + ":" + nfcPort + "/" + encode(vmMoref) + "/"
                + snapshotMoref.map(VddkUri::encode).orElse("-") + "/" + encode(diskPath).replace("%2F", "/")
                + thumbprint.map(t -> "?thumbprint=" + t).orElse("");
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
