package io.blockmover.mover.transport.vddk;

/** {@code --transport}: how a job reads a disk that VDDK and NBD can both reach. */
public enum TransportChoice {
    /** VDDK in the allowed modes, else the NBD endpoint (said in the result). */
    VDDK("vddk"),
    /** VDDK or fail: never fall back to NBD. */
    VDDK_ONLY("vddk-only"),
    /** The NBD endpoint only. */
    NBD("nbd");

    private final String spelling;

    TransportChoice(String spelling) {
        this.spelling = spelling;
    }

    public static TransportChoice parse(String text) {
        for (TransportChoice c : values()) {
            if (c.spelling.equals(text)) {
                return c;
            }
        }
        throw new IllegalArgumentException("--transport must be vddk, vddk-only or nbd, not '" + text + "'");
    }
}
