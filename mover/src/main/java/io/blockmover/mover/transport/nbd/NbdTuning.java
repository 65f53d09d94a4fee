package io.blockmover.mover.transport.nbd;

/** Defaults measured against nbdcopy on this project's kind of machine (see docs/nbd.md, "NBD client"). */
public final class NbdTuning {
    private NbdTuning() {}

    /** Requests kept in flight over all connections. */
    public static final int DEFAULT_REQUESTS_IN_FLIGHT = 64;
    /** Bytes per READ request. */
    public static final int DEFAULT_REQUEST_SIZE = 256 << 10;
    /** Connections when the server allows several. */
    public static final int DEFAULT_CONNECTIONS = 2;
}
