package io.blockmover.bench.e2e;

import java.io.IOException;

/** The CPU time (user + system) an NBD server process has used so far, read before and after a step. */
@FunctionalInterface
interface ServerCpu {
    ServerCpu NONE = () -> 0;

    double seconds() throws IOException;

    static ServerCpu of(PeerProcess server) {
        return () -> ProxySteps.cpuSeconds(server.pid());
    }
}
