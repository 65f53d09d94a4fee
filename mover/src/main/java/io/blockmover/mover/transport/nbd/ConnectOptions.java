package io.blockmover.mover.transport.nbd;

import io.blockmover.mover.transport.RetryPolicy;
import io.blockmover.mover.transport.Timeouts;
import java.util.List;

/**
 * How to reach and use one export.
 *
 * @param connections  connections to open when the server allows several (CAN_MULTI_CONN)
 * @param metaContexts contexts to negotiate besides {@code base:allocation} (e.g. a dirty bitmap)
 * @param listContexts also ask the server for every context it offers (for nbd-info)
 */
public record ConnectOptions(int connections, List<String> metaContexts, boolean listContexts,
                             Timeouts timeouts, RetryPolicy retry) {
    public static final ConnectOptions DEFAULT = new ConnectOptions(NbdTuning.DEFAULT_CONNECTIONS, List.of(), false,
            Timeouts.DEFAULT, RetryPolicy.DEFAULT);

    public ConnectOptions {
        if (connections < 1 || connections > 64) {
            throw new IllegalArgumentException("connections must be 1..64: " + connections);
        }
        metaContexts = List.copyOf(metaContexts);
    }

    public ConnectOptions withConnections(int n) {
        return new ConnectOptions(n, metaContexts, listContexts, timeouts, retry);
    }

    public ConnectOptions withMetaContexts(List<String> contexts) {
        return new ConnectOptions(connections, contexts, listContexts, timeouts, retry);
    }

    public ConnectOptions withListContexts(boolean list) {
        return new ConnectOptions(connections, metaContexts, list, timeouts, retry);
    }

    public ConnectOptions withTimeouts(Timeouts t) {
        return new ConnectOptions(connections, metaContexts, listContexts, t, retry);
    }

    public ConnectOptions withRetry(RetryPolicy r) {
        return new ConnectOptions(connections, metaContexts, listContexts, timeouts, r);
    }
}
