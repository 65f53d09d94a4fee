package io.blockmover.nbd.protocol;

/** The fixed-newstyle greeting: NBDMAGIC, IHAVEOPT, then the server's u16 handshake flags. */
public record ServerGreeting(int handshakeFlags) {
    public static final ServerGreeting FIXED_NEWSTYLE_NO_ZEROES =
            new ServerGreeting(NbdConstants.FLAG_FIXED_NEWSTYLE | NbdConstants.FLAG_NO_ZEROES);

    public ServerGreeting {
        if ((handshakeFlags & ~0xFFFF) != 0) {
            throw new IllegalArgumentException("handshake flags are 16 bits: " + handshakeFlags);
        }
    }

    public boolean fixedNewstyle() {
        return (handshakeFlags & NbdConstants.FLAG_FIXED_NEWSTYLE) != 0;
    }

    public boolean noZeroes() {
        return (handshakeFlags & NbdConstants.FLAG_NO_ZEROES) != 0;
    }
}
