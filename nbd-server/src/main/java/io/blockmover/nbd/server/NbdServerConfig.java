package io.blockmover.nbd.server;

import java.net.SocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * How an {@link NbdServer} runs.
 *
 * @param bind                 address to listen on: TCP (port 0 picks a free port) or a Unix socket's path
 * @param tls                  STARTTLS support, optionally mandatory
 * @param faults               consulted for every transmission request
 * @param maxRequestsInFlight  per connection; beyond it the server stops reading the socket
 * @param maxBytesInFlight     per connection, READ and WRITE lengths summed; same effect
 * @param handshakeTimeout     a client still negotiating after this long is disconnected
 */
public record NbdServerConfig(SocketAddress bind, Optional<ServerTls> tls, FaultInjector faults,
                              int maxRequestsInFlight, long maxBytesInFlight, Duration handshakeTimeout) {

    public NbdServerConfig {
        Objects.requireNonNull(bind, "bind");
        Objects.requireNonNull(tls, "tls");
        Objects.requireNonNull(faults, "faults");
        Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
        if (maxRequestsInFlight < 1 || maxBytesInFlight < 1) {
            throw new IllegalArgumentException("in-flight limits must be positive");
        }
    }

    /** Plain TCP, no faults, 64 requests or 128 MiB in flight per connection, 30 s to negotiate. */
    public static NbdServerConfig plain(SocketAddress bind) {
        return new NbdServerConfig(bind, Optional.empty(), FaultInjector.NONE, 64, 128L << 20, Duration.ofSeconds(30));
    }

    public NbdServerConfig withTls(ServerTls tls) {
        return new NbdServerConfig(bind, Optional.of(tls), faults, maxRequestsInFlight, maxBytesInFlight, handshakeTimeout);
    }

    public NbdServerConfig withFaults(FaultInjector faults) {
        return new NbdServerConfig(bind, tls, faults, maxRequestsInFlight, maxBytesInFlight, handshakeTimeout);
    }

    public NbdServerConfig withInFlightLimits(int requests, long bytes) {
        return new NbdServerConfig(bind, tls, faults, requests, bytes, handshakeTimeout);
    }

    public NbdServerConfig withHandshakeTimeout(Duration timeout) {
        return new NbdServerConfig(bind, tls, faults, maxRequestsInFlight, maxBytesInFlight, timeout);
    }
}
