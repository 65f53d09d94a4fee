package io.blockmover.nbd.server;

/**
 * Consulted by the server for every transmission-phase request, so tests and the emulated
 * host can make a healthy server misbehave on purpose: delay a reply, fail it, or drop the
 * connection. The default injects nothing.
 */
@FunctionalInterface
public interface FaultInjector {

    FaultInjector NONE = (connection, export, command, offset, length) -> Fault.None.INSTANCE;

    /**
     * @param connection a number unique to the connection within this server, counting from 1
     * @param export     the export name the connection selected
     * @param command    the NBD command type (READ 0, WRITE 1, ...)
     */
    Fault onRequest(long connection, String export, int command, long offset, long length);

    /** What happens to one request. */
    sealed interface Fault {
        /** Serve normally. */
        record None() implements Fault {
            public static final None INSTANCE = new None();
        }

        /** Serve normally after a delay (without blocking an event loop). */
        record Delay(long nanos) implements Fault {}

        /** Answer with this NBD error value (e.g. EIO 5) instead of serving. */
        record Error(int errno, String message) implements Fault {}

        /** Close the connection without answering this or any later request. */
        record Drop() implements Fault {}
    }
}
