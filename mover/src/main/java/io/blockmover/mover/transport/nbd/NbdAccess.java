package io.blockmover.mover.transport.nbd;

import java.io.IOException;
import java.util.List;
import java.util.function.Function;

/**
 * How a job reaches NBD exports: the operator's TLS settings applied to every URI it is given,
 * and the connection options (connections, timeouts, retries). The CLI builds one from its
 * flags, the proxy from its own at start-up.
 */
public record NbdAccess(Function<String, NbdUri> resolve, ConnectOptions options) {
    public static final NbdAccess DEFAULT = new NbdAccess(NbdUri::parse, ConnectOptions.DEFAULT);

    public NbdUri uri(String text) {
        return resolve.apply(text);
    }

    public NbdDiskSource openSource(String uri, List<String> metaContexts) throws IOException {
        return NbdDiskSource.open(uri(uri), options.withMetaContexts(metaContexts));
    }

    public NbdDiskTarget openTarget(String uri) throws IOException {
        return NbdDiskTarget.open(uri(uri), options);
    }
}
