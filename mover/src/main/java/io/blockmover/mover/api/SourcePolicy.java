package io.blockmover.mover.api;

import io.blockmover.mover.transport.nbd.NbdUri;
import io.blockmover.mover.transport.vddk.VddkUri;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Which NBD servers the proxy may read backups from and write restores to. A request names a URI,
 * and the proxy (often root, on the storage network) connects wherever it says: without this, any
 * caller could make it read any reachable export or Unix socket, or overwrite a live disk. The
 * operator lists what is allowed ({@code --allow-source}, {@code --allow-restore-to}); nothing
 * else is, so a proxy started without a list serves no source and no NBD restore.
 * <p>A rule is {@code HOST:PORT}, either side may be {@code *} and HOST may hold {@code *}
 * (e.g. {@code *.esx.example:10809}, {@code 10.1.2.*:*}), matched against the URI's host as
 * written; or an absolute directory, which allows Unix sockets inside it (symbolic links resolved).
 */
public final class SourcePolicy {
    /** One allowed place. */
    sealed interface Rule {
        boolean allows(NbdUri.Endpoint endpoint);
    }

    record HostPort(Pattern host, int port, String text) implements Rule {
        static final int ANY_PORT = -1;

        @Override
        public boolean allows(NbdUri.Endpoint endpoint) {
            return endpoint instanceof NbdUri.Endpoint.Tcp(String h, int p)
                    && host.matcher(h.toLowerCase(Locale.ROOT)).matches() && (port == ANY_PORT || port == p);
        }
    }

    record SocketDirectory(Path directory) implements Rule {
        @Override
        public boolean allows(NbdUri.Endpoint endpoint) {
            return endpoint instanceof NbdUri.Endpoint.Unix(Path socket) && resolved(socket).startsWith(directory);
        }
    }

    public static final SourcePolicy NOTHING = new SourcePolicy(List.of(), List.of());

    private final List<Rule> sources;
    private final List<Rule> restoreTargets;

    private SourcePolicy(List<Rule> sources, List<Rule> restoreTargets) {
        this.sources = List.copyOf(sources);
        this.restoreTargets = List.copyOf(restoreTargets);
    }

    /** The policy of {@code --allow-source} and {@code --allow-restore-to} rules; a bad rule fails here. */
    public static SourcePolicy of(List<String> sources, List<String> restoreTargets) {
        return new SourcePolicy(sources.stream().map(SourcePolicy::rule).toList(),
                restoreTargets.stream().map(SourcePolicy::rule).toList());
    }

    static Rule rule(String text) {
        if (text.startsWith("/")) {
            return new SocketDirectory(resolved(Path.of(text)));
        }
        int colon = text.lastIndexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException("allow rule '" + text + "' is neither HOST:PORT nor an absolute socket directory");
        }
        String host = text.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        String port = text.substring(colon + 1);
        int p;
        try {
            p = port.equals("*") ? HostPort.ANY_PORT : Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("allow rule '" + text + "': the port must be a number or *");
        }
        if (p != HostPort.ANY_PORT && (p < 1 || p > 65535)) {
            throw new IllegalArgumentException("allow rule '" + text + "': no port " + p);
        }
        String regex = Arrays.stream(host.toLowerCase(Locale.ROOT).split("\\*", -1)).map(Pattern::quote)
                .collect(Collectors.joining("[^/]*"));
        return new HostPort(Pattern.compile(regex), p, text);
    }

    /** Refuses a backup or verify source the allow-list does not name. */
    public void checkSource(String uri) {
        check(uri, sources, "source", "--allow-source");
    }

    /** Refuses an NBD restore target the allow-list does not name. */
    public void checkRestoreTarget(String uri) {
        check(uri, restoreTargets, "restore target", "--allow-restore-to");
    }

    private static void check(String uri, List<Rule> rules, String what, String option) {
        NbdUri.Endpoint endpoint = endpointOf(uri);
        if (rules.stream().noneMatch(r -> r.allows(endpoint))) {
            throw new SecurityException("the " + what + " " + endpoint + " is not allowed by this proxy (" + option
                    + (rules.isEmpty() ? " lists nothing)" : " lists other places)"));
        }
    }

    /**
     * Where a URI connects: an NBD URI's server, or a vddk:// URI's host (its port as written, 0
     * when it names none, which only a rule with port {@code *} allows).
     */
    private static NbdUri.Endpoint endpointOf(String uri) {
        if (!VddkUri.isVddk(uri)) {
            return NbdUri.parse(uri).endpoint();
        }
        URI u;
        try {
            u = new URI(uri);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("not a valid vddk:// URI '" + uri + "': " + e.getReason());
        }
        if (u.getHost() == null) {
            throw new IllegalArgumentException("vddk:// URI '" + uri + "' names no host");
        }
        return new NbdUri.Endpoint.Tcp(u.getHost(), Math.max(0, u.getPort()));
    }

    /** The real path of {@code p}, or of its nearest existing parent with the rest appended: links cannot lead out. */
    private static Path resolved(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return abs;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(abs));
        } catch (IOException e) {
            return abs;
        }
    }
}
