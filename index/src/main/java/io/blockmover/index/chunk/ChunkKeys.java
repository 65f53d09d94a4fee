package io.blockmover.index.chunk;

import javax.crypto.spec.SecretKeySpec;

/**
 * The master keys of an encrypted repository: one for AES-256-GCM of chunk payloads, one for
 * HMAC-SHA256 chunk naming (so digests reveal nothing about content). Random at init, stored
 * only wrapped under the passphrase-derived key (see {@link KeyWrap}).
 */
public record ChunkKeys(SecretKeySpec encryption, SecretKeySpec mac) {
    public static final int MATERIAL_LENGTH = 64;

    public static ChunkKeys fromMaterial(byte[] material) {
        if (material.length != MATERIAL_LENGTH) {
            throw new IllegalArgumentException("key material must be 64 bytes");
        }
        return new ChunkKeys(new SecretKeySpec(material, 0, 32, "AES"), new SecretKeySpec(material, 32, 32, "HmacSHA256"));
    }
}
