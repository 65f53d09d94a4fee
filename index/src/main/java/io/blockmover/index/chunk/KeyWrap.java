package io.blockmover.index.chunk;

import io.blockmover.index.format.WrongPassphraseException;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Passphrase handling. PBKDF2-HMAC-SHA256 (JDK built-in, no extra dependency, FIPS-approved)
 * with a random 16-byte salt and a stored iteration count derives a key-encryption key; the
 * random 64-byte master key material is stored AES-256-GCM-wrapped under it, so changing the
 * passphrase rewrites only the wrapped key. A wrong passphrase fails the GCM tag: a clear error.
 */
public final class KeyWrap {
    public static final String KDF_NAME = "pbkdf2-hmac-sha256";
    /** OWASP 2023 guidance for PBKDF2-HMAC-SHA256. */
    public static final int DEFAULT_ITERATIONS = 600_000;
    private static final int NONCE = 12;
    private static final int TAG_BITS = 128;

    private KeyWrap() {
    }

    public static byte[] newSalt(SecureRandom random) {
        byte[] salt = new byte[16];
        random.nextBytes(salt);
        return salt;
    }

    public static byte[] newMaterial(SecureRandom random) {
        byte[] material = new byte[ChunkKeys.MATERIAL_LENGTH];
        random.nextBytes(material);
        return material;
    }

    public static byte[] wrap(char[] passphrase, byte[] salt, int iterations, byte[] material, String repoId, SecureRandom random) {
        try {
            byte[] nonce = new byte[NONCE];
            random.nextBytes(nonce);
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, kek(passphrase, salt, iterations), new GCMParameterSpec(TAG_BITS, nonce));
            c.updateAAD(aad(repoId));
            byte[] sealed = c.doFinal(material);
            byte[] out = Arrays.copyOf(nonce, NONCE + sealed.length);
            System.arraycopy(sealed, 0, out, NONCE, sealed.length);
            return out;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK lacks AES-GCM or PBKDF2", e);
        }
    }

    public static byte[] unwrap(char[] passphrase, byte[] salt, int iterations, byte[] wrapped, String repoId) {
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, kek(passphrase, salt, iterations), new GCMParameterSpec(TAG_BITS, wrapped, 0, NONCE));
            c.updateAAD(aad(repoId));
            return c.doFinal(wrapped, NONCE, wrapped.length - NONCE);
        } catch (AEADBadTagException e) {
            throw new WrongPassphraseException();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK lacks AES-GCM or PBKDF2", e);
        }
    }

    private static SecretKeySpec kek(char[] passphrase, byte[] salt, int iterations) throws GeneralSecurityException {
        PBEKeySpec spec = new PBEKeySpec(passphrase, salt, iterations, 256);
        try {
            byte[] k = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
            return new SecretKeySpec(k, "AES");
        } finally {
            spec.clearPassword();
        }
    }

    private static byte[] aad(String repoId) {
        return ("blockmover-master-key:" + repoId).getBytes(StandardCharsets.UTF_8);
    }
}
