package io.blockmover.mover.transport.nbd;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An NBD URI as libnbd writes them ({@code nbd://host[:port]/export}, {@code nbds://...},
 * {@code nbd+unix:///export?socket=PATH}, {@code nbds+unix://...}), with libnbd's TLS query
 * parameters {@code tls-certificates} and {@code tls-verify-peer} and our own
 * {@code tls-ca-file}, {@code tls-cert-file}, {@code tls-key-file} and {@code tls-fingerprint}
 * (SHA-256 of the server certificate, hex with or without colons).
 */
public record NbdUri(Endpoint endpoint, String exportName, boolean tls, TlsOptions tlsOptions) {
    public static final int DEFAULT_PORT = 10809;

    /** Where the server listens. */
    public sealed interface Endpoint {
        record Tcp(String host, int port) implements Endpoint {
            @Override
            public String toString() {
                return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
            }
        }

        record Unix(Path socket) implements Endpoint {
            @Override
            public String toString() {
                return "unix:" + socket;
            }
        }
    }

    public NbdUri {
        if (!tls && !tlsOptions.equals(TlsOptions.NONE)) {
            throw new IllegalArgumentException("TLS options given for a plain connection; use nbds:// or nbds+unix://");
        }
    }

    /** Parses a URI; every mistake gets an exception whose message names it. */
    public static NbdUri parse(String text) {
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("not a valid NBD URI '" + text + "': " + e.getReason());
        }
        String scheme = uri.getScheme();
        if (scheme == null) {
            throw new IllegalArgumentException("NBD URI '" + text + "' has no scheme; expected nbd://, nbds://, nbd+unix:// or nbds+unix://");
        }
        boolean tls;
        boolean unix;
        switch (scheme.toLowerCase(java.util.Locale.ROOT)) {
            case "nbd" -> { tls = false; unix = false; }
            case "nbds" -> { tls = true; unix = false; }
            case "nbd+unix" -> { tls = false; unix = true; }
            case "nbds+unix" -> { tls = true; unix = true; }
            default -> throw new IllegalArgumentException("unsupported NBD URI scheme '" + scheme
                    + "' in '" + text + "'; expected nbd, nbds, nbd+unix or nbds+unix");
        }
        if (uri.isOpaque()) {
            throw new IllegalArgumentException("NBD URI '" + text + "' must look like " + scheme + "://...");
        }
        Map<String, String> query = parseQuery(uri.getRawQuery(), text);
        String export = exportName(uri.getRawPath());

        Endpoint endpoint;
        String socket = query.remove("socket");
        if (unix) {
            if (socket == null || socket.isEmpty()) {
                throw new IllegalArgumentException("NBD URI '" + text + "' needs ?socket=PATH for a Unix socket");
            }
            if (uri.getRawAuthority() != null && !uri.getRawAuthority().isEmpty() && uri.getHost() != null) {
                throw new IllegalArgumentException("NBD URI '" + text + "' names a host with a Unix socket; write " + scheme + ":///export?socket=PATH");
            }
            endpoint = new Endpoint.Unix(Path.of(socket));
        } else {
            if (socket != null) {
                throw new IllegalArgumentException("the socket parameter needs nbd+unix:// or nbds+unix://, not " + scheme + "://");
            }
            String host = uri.getHost();
            if (host == null || host.isEmpty()) {
                throw new IllegalArgumentException("NBD URI '" + text + "' has no host (or an invalid one)");
            }
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            int port = uri.getPort() == -1 ? DEFAULT_PORT : uri.getPort();
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port out of range in '" + text + "': " + port);
            }
            endpoint = new Endpoint.Tcp(host, port);
        }
        TlsOptions tlsOptions = TlsOptions.fromQuery(query, text);
        if (!query.isEmpty()) {
            throw new IllegalArgumentException("unknown NBD URI parameter" + (query.size() > 1 ? "s " : " ")
                    + String.join(", ", query.keySet()) + " in '" + text + "'; known: socket, "
                    + String.join(", ", TlsOptions.PARAMETERS));
        }
        if (!tls && !tlsOptions.equals(TlsOptions.NONE)) {
            throw new IllegalArgumentException("TLS parameters in '" + text + "' need nbds:// or nbds+unix://");
        }
        return new NbdUri(endpoint, export, tls, tlsOptions);
    }

    /** This URI with different TLS options (from CLI flags), switching TLS on when they ask for it. */
    public NbdUri withTls(TlsOptions options) {
        boolean on = tls || !options.equals(TlsOptions.NONE);
        return new NbdUri(endpoint, exportName, on, options);
    }

    private static String exportName(String rawPath) {
        if (rawPath == null || rawPath.isEmpty()) {
            return "";
        }
        // libnbd: the export name is the path without its leading slash.
        String p = rawPath.startsWith("/") ? rawPath.substring(1) : rawPath;
        return URLDecoder.decode(p.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    private static Map<String, String> parseQuery(String raw, String text) {
        Map<String, String> out = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String part : raw.split("[&;]")) {
            if (part.isEmpty()) {
                continue;
            }
            int eq = part.indexOf('=');
            String key = decode(eq < 0 ? part : part.substring(0, eq));
            String value = eq < 0 ? "" : decode(part.substring(eq + 1));
            if (out.put(key, value) != null) {
                throw new IllegalArgumentException("NBD URI parameter '" + key + "' given twice in '" + text + "'");
            }
        }
        return out;
    }

    private static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** The URI in libnbd's form, without TLS file parameters (for messages). */
    @Override
    public String toString() {
        String scheme = (tls ? "nbds" : "nbd") + (endpoint instanceof Endpoint.Unix ? "+unix" : "");
        return switch (endpoint) {
            case Endpoint.Tcp t -> scheme + "://" + t + "/" + exportName;
            case Endpoint.Unix u -> scheme + ":///" + exportName + "?socket=" + u.socket();
        };
    }
}
