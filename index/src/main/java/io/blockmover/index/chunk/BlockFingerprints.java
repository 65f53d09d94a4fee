package io.blockmover.index.chunk;

import net.jpountz.xxhash.XXHash64;
import net.jpountz.xxhash.XXHashFactory;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Fingerprints of the 4 KiB blocks at 4 KiB-aligned offsets inside chunks, for sub-chunk dedup.
 * Every block gets a cheap 64-bit hash (XXH64, about 10 GB/s here against SHA-256's 1.5), which
 * finds blocks in the chunks a backup has just matched; one block in {@link #SAMPLING} (hash ≡ 0)
 * is sampled into the repository's fingerprint index, under a key of 8 bytes.
 *
 * <p>In a plain repository the key is the hash itself. In an encrypted one the index must not let
 * anyone test a guess of content: the hash is seeded with a secret derived from the MAC key (so
 * which blocks are sampled says nothing testable either) and the stored key is HMAC-SHA256 under
 * another derived key, truncated to 8 bytes, computed only for the sampled blocks. A fingerprint
 * is never trusted: a candidate is compared byte for byte before it is used. Not thread-safe: one
 * per {@link ChunkCodec}.
 */
public final class BlockFingerprints {
    public static final int BLOCK = 4096;
    /**
     * One block in this many is sampled into the index: about 4 keys per 128 KiB chunk. 1 in 16
     * left 5 MiB more of the file-system image's copies stored (docs/performance.md).
     */
    public static final int SAMPLING = 8;
    public static final int KEY = 8;

    private static final XXHash64 XXH = XXHashFactory.fastestInstance().hash64();
    private final long seed;
    private final Mac mac;

    BlockFingerprints(ChunkKeys keys) {
        if (keys == null) {
            seed = 0;
            mac = null;
            return;
        }
        try {
            Mac derive = Mac.getInstance("HmacSHA256");
            derive.init(keys.mac());
            byte[] s = derive.doFinal("blockmover-subchunk-sample-seed-v1".getBytes(StandardCharsets.US_ASCII));
            seed = ByteBuffer.wrap(s).getLong();
            byte[] k = derive.doFinal("blockmover-subchunk-fingerprint-key-v1".getBytes(StandardCharsets.US_ASCII));
            mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(k, "HmacSHA256"));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK lacks HMAC-SHA256", e);
        }
    }

    /**
     * The cheap hash of the block at absolute {@code offset} of {@code buf} (not moved). A heap
     * buffer (a recent chunk's slot) goes to the array entry point: passing both kinds of buffer to
     * the ByteBuffer one made the JIT's speculation on its class fail and recompile, job after job.
     */
    public long hash(ByteBuffer buf, int offset) {
        if (buf.hasArray()) {
            return XXH.hash(buf.array(), buf.arrayOffset() + offset, BLOCK, seed);
        }
        return XXH.hash(buf, offset, BLOCK, seed);
    }

    public static boolean sampled(long hash) {
        return (hash & (SAMPLING - 1)) == 0;
    }

    /** The index key of a sampled block whose {@link #hash} is {@code hash}. */
    public byte[] key(long hash, ByteBuffer buf, int offset) {
        byte[] out = new byte[KEY];
        if (mac == null) {
            ByteBuffer.wrap(out).putLong(hash);
            return out;
        }
        mac.update(buf.slice(offset, BLOCK));
        System.arraycopy(mac.doFinal(), 0, out, 0, KEY);
        return out;
    }
}
