package io.blockmover.nbd.protocol;

/** The client's u32 answer to the greeting. */
public record ClientFlags(int flags) {
    public static final ClientFlags FIXED_NEWSTYLE_NO_ZEROES =
            new ClientFlags(NbdConstants.FLAG_C_FIXED_NEWSTYLE | NbdConstants.FLAG_C_NO_ZEROES);

    public boolean fixedNewstyle() {
        return (flags & NbdConstants.FLAG_C_FIXED_NEWSTYLE) != 0;
    }

    public boolean noZeroes() {
        return (flags & NbdConstants.FLAG_C_NO_ZEROES) != 0;
    }

    /** Bits this implementation does not know; a server must drop such a client. */
    public int unknownBits() {
        return flags & ~(NbdConstants.FLAG_C_FIXED_NEWSTYLE | NbdConstants.FLAG_C_NO_ZEROES);
    }
}
