package io.blockmover.mover.api;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;

/**
 * A plaintext gRPC listener carries restore targets, sources and (with the service's tokens)
 * credentials in the clear, and anyone who reaches it may call: it binds only to loopback, where
 * a local scheduler or a TLS-terminating sidecar reaches it, unless the operator insists.
 */
public final class ListenCheck {
    private static final Logger log = LoggerFactory.getLogger(ListenCheck.class);

    private ListenCheck() {}

    public static void check(InetSocketAddress listen, boolean tls, boolean insecureListen) {
        if (tls || isLoopback(listen)) {
            return;
        }
        String what = "plaintext gRPC on " + listen.getHostString() + ":" + listen.getPort() + " is open to anyone who can reach it";
        if (!insecureListen) {
            throw new IllegalArgumentException(what + "; serve TLS (--grpc-tls-cert, --grpc-tls-key), listen on 127.0.0.1, "
                    + "or pass --insecure-listen");
        }
        log.warn("{} (--insecure-listen)", what);
        System.err.println("blockmover: warning: " + what + " (--insecure-listen)");
    }

    private static boolean isLoopback(InetSocketAddress a) {
        return a.getAddress() != null && a.getAddress().isLoopbackAddress();
    }
}
