package io.blockmover.index.chunk;

import java.security.SecureRandom;

/**
 * AES-GCM nonces for one codec instance: 8 random bytes, then a 32-bit counter, so every nonce
 * is unique without a syscall per record. The random part is drawn anew when the counter wraps.
 * Not thread-safe, like the codecs that own one.
 */
final class GcmNonces {
    static final int LENGTH = 12;

    private final byte[] nonce = new byte[LENGTH];
    private int counter;

    GcmNonces() {
        new SecureRandom().nextBytes(nonce);
    }

    /** The next nonce, in an array this object reuses (valid until the next call). */
    byte[] next() {
        if (++counter == 0) {
            new SecureRandom().nextBytes(nonce);
        }
        nonce[8] = (byte) (counter >>> 24);
        nonce[9] = (byte) (counter >>> 16);
        nonce[10] = (byte) (counter >>> 8);
        nonce[11] = (byte) counter;
        return nonce;
    }
}
