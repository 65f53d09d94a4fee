package io.blockmover.mover.transport;

/**
 * How to zero a range.
 *
 * @param keepAllocated the range must stay allocated (NBD NO_HOLE); otherwise it may be punched
 * @param fastOnly      fail rather than zero slowly (NBD FAST_ZERO), honoured when offered
 * @param fua           durable on completion
 */
public record ZeroOptions(boolean keepAllocated, boolean fastOnly, boolean fua) {
    public static final ZeroOptions DEFAULT = new ZeroOptions(false, false, false);
}
