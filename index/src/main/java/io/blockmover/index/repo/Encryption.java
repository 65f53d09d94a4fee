package io.blockmover.index.repo;

/** How chunks are protected; recorded by name in the repository config. */
public sealed interface Encryption {
    String name();

    record None() implements Encryption {
        @Override
        public String name() {
            return "none";
        }
    }

    /** AES-256-GCM per chunk, HMAC-SHA256 chunk ids; keys wrapped under a PBKDF2-derived key. */
    record AesGcm(String kdf, int iterations, byte[] salt, byte[] wrappedKey) implements Encryption {
        @Override
        public String name() {
            return "aes-256-gcm";
        }
    }
}
