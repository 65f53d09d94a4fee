package io.blockmover.index.chunk;

import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.pack.PackRecords;
import io.blockmover.index.pack.PackRecords.ChunkPayload;

import static io.blockmover.index.format.PackFormat.FLAG_AES_GCM;
import static io.blockmover.index.format.PackFormat.FLAG_LZ4;
import static io.blockmover.index.format.PackFormat.FLAG_RECIPE;
import static io.blockmover.index.format.PackFormat.FLAG_ZSTD;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;

/**
 * Turns plaintext chunks into stored payloads and back: digest, zstd, AES-GCM. The record framing
 * around a payload is {@link PackRecords}'. One instance per thread at a time (it
 * owns a digest, zstd contexts, a cipher and direct scratch buffers, all reused so the hot
 * path allocates only the 32-byte digest); borrow one from a {@link CodecPool}. It compresses
 * with the repository's {@link Compression} and reads records of every codec (each record's
 * flags name its own).
 */
public final class ChunkCodec implements AutoCloseable {
    private static final int GCM_NONCE = GcmNonces.LENGTH;
    private static final int GCM_TAG = 16;
    private static final int SAMPLES = 4;
    private static final int SAMPLE = 8 << 10;
    private static final int MIN_SAMPLE = 2 << 10;

    private final int chunkSize;
    private final ChunkKeys keys;
    private final MessageDigest sha;
    private final Mac hmac;
    private final Cipher cipher;
    private final Compression compression;
    /** Null when the repository compresses with LZ4 only. */
    private final ZstdCompressCtx zc;
    private final ZstdDecompressCtx zd;
    /** Null when the repository compresses with zstd only. */
    private final LZ4Compressor lz4;
    /** Made on the first LZ4 record read: a zstd repository never loads LZ4's native library. */
    private LZ4SafeDecompressor unlz4;
    /** Staging for heap input, and decompressed output bound for a heap destination. */
    private final ByteBuffer staging;
    private final ByteBuffer compressed;
    /** Encrypted payload when writing, decrypted payload when reading (encrypted repositories only). */
    private final ByteBuffer sealed;
    private final ByteBuffer zeros;
    private final GcmNonces nonces;
    private final byte[] lookupScratch = new byte[32];
    private ByteBuffer recordBuffer;
    /** Made on the first frame written or read. */
    private FrameCodec frames;
    /** Made on first use: only sub-chunk dedup needs it. */
    private BlockFingerprints fingerprints;

    public ChunkCodec(int chunkSize, int zstdLevel, ChunkKeys keys) {
        this(chunkSize, Compression.zstd(zstdLevel), keys);
    }

    public ChunkCodec(int chunkSize, Compression compression, ChunkKeys keys) {
        this.chunkSize = chunkSize;
        this.keys = keys;
        this.compression = compression;
        int bound = compressBound(chunkSize);
        this.staging = ByteBuffer.allocateDirect(Math.max(chunkSize, bound) + GCM_NONCE + GCM_TAG);
        this.compressed = ByteBuffer.allocateDirect(bound);
        this.sealed = keys == null ? null : ByteBuffer.allocateDirect(bound + GCM_NONCE + GCM_TAG);
        this.nonces = keys == null ? null : new GcmNonces();
        this.zeros = ByteBuffer.allocateDirect(chunkSize);
        try {
            this.sha = keys == null ? MessageDigest.getInstance("SHA-256") : null;
            if (keys != null) {
                this.hmac = Mac.getInstance("HmacSHA256");
                this.hmac.init(keys.mac());
                this.cipher = Cipher.getInstance("AES/GCM/NoPadding");
            } else {
                this.hmac = null;
                this.cipher = null;
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK lacks SHA-256, HMAC-SHA256 or AES-GCM", e);
        }
        this.zc = compression.usesZstd()
                ? new ZstdCompressCtx().setLevel(compression.level()).setChecksum(false).setContentSize(true) : null;
        this.zd = new ZstdDecompressCtx();
        this.lz4 = compression.usesLz4() ? LZ4Factory.fastestInstance().fastCompressor() : null;
    }

    /** Room for any compressed chunk, whichever codec made it. */
    private static int compressBound(int chunkSize) {
        // LZ4_COMPRESSBOUND from lz4.h, without loading LZ4 to ask it.
        return Math.max((int) Zstd.compressBound(chunkSize), chunkSize + chunkSize / 255 + 16);
    }

    public int chunkSize() {
        return chunkSize;
    }

    /** This repository's 4 KiB block fingerprints (keyed when encrypted). */
    public BlockFingerprints fingerprints() {
        if (fingerprints == null) {
            fingerprints = new BlockFingerprints(keys);
        }
        return fingerprints;
    }

    /** Scratch for index lookups whose value is not needed. */
    public byte[] lookupScratch() {
        return lookupScratch;
    }

    /** A direct buffer for reading one whole record, cleared; allocated on first use. */
    public ByteBuffer recordBuffer() {
        if (recordBuffer == null) {
            recordBuffer = ByteBuffer.allocateDirect(PackRecords.recordLength(maxPayloadLength(chunkSize)));
        }
        return recordBuffer.clear();
    }

    /** True when every byte of {@code chunk}'s remaining bytes is zero (vectorized compare). */
    public boolean isZero(ByteBuffer chunk) {
        zeros.limit(chunk.remaining()).position(0);
        return chunk.mismatch(zeros) < 0;
    }

    /** The chunk's name: SHA-256, or HMAC-SHA256 when encrypted. Does not move {@code chunk}. */
    public ChunkId digest(ByteBuffer chunk) {
        int p = chunk.position();
        try {
            if (hmac != null) {
                hmac.update(chunk);
                return ChunkId.wrap(hmac.doFinal());
            }
            sha.update(chunk);
            return ChunkId.wrap(sha.digest());
        } finally {
            chunk.position(p);
        }
    }

    /** {@link #encode(ChunkId, ByteBuffer, boolean)} when the machine is not known to be compression-bound. */
    public ChunkPayload encode(ChunkId id, ByteBuffer plain) {
        return encode(id, plain, false);
    }

    /**
     * Encodes the payload to store for {@code plain} (not moved). Its buffer stays valid until
     * this codec's next call and may be {@code plain} itself (stored raw, unencrypted), so the
     * caller must not touch it meanwhile.
     *
     * @param cpuBound every core is busy storing chunks: with {@code auto}, compress with LZ4
     */
    public ChunkPayload encode(ChunkId id, ByteBuffer plain, boolean cpuBound) {
        ByteBuffer src = plain.duplicate();
        if (!src.isDirect()) {
            staging.clear();
            staging.put(src).flip();
            src = staging;
        }
        int plainLength = src.remaining();
        int flags = 0;
        ByteBuffer payload = src;
        boolean useLz4 = useLz4(cpuBound);
        if (worthCompressing(src, useLz4)) {
            compressed.clear();
            int n = useLz4
                    ? lz4.compress(src, src.position(), plainLength, compressed, 0, compressed.capacity())
                    : zc.compressDirectByteBuffer(compressed, 0, compressed.capacity(), src, src.position(), plainLength);
            if (n < plainLength) {
                compressed.limit(n);
                payload = compressed;
                flags |= useLz4 ? FLAG_LZ4 : FLAG_ZSTD;
            }
        }
        if (keys != null) {
            payload = seal(id, payload);
            flags |= FLAG_AES_GCM;
        }
        return new ChunkPayload(flags, plainLength, payload);
    }

    /** This codec's frame codec (same compression and keys), for frames of several chunks. */
    public FrameCodec frames() {
        if (frames == null) {
            frames = new FrameCodec(compression, keys);
        }
        return frames;
    }

    /**
     * True when {@code plain} (not moved) is worth compressing, by the samples {@link #encode}
     * takes: a chunk that is not goes into a record of its own, stored raw, never into a frame.
     */
    public boolean compressible(ByteBuffer plain, boolean cpuBound) {
        ByteBuffer src = plain.duplicate();
        if (!src.isDirect()) {
            staging.clear();
            staging.put(src).flip();
            src = staging;
        }
        return worthCompressing(src, useLz4(cpuBound));
    }

    /** With {@code auto}, LZ4 while the backup is compression-bound; otherwise the repository's one codec. */
    public boolean useLz4(boolean cpuBound) {
        return zc == null || (lz4 != null && cpuBound);
    }

    /**
     * Encodes a recipe for chunk {@code id}: its body compressed and encrypted like a plaintext, behind
     * its source ids in the clear; the payload is a fresh buffer, the plaintext length the body's.
     */
    public ChunkPayload encodeRecipe(ChunkId id, Recipe recipe, boolean cpuBound) {
        ChunkPayload body = encode(id, recipe.encodeBody(), cpuBound);
        byte[] sources = recipe.encodeSources();
        ByteBuffer payload = ByteBuffer.allocate(sources.length + body.payload().remaining());
        payload.put(sources).put(body.payload().duplicate()).flip();
        return new ChunkPayload(body.flags() | FLAG_RECIPE, body.plainLength(), payload);
    }

    /**
     * Compressing random data costs a quarter of SHA-256's time for nothing. Four small samples
     * spread over the chunk predict the outcome for a few percent of that: the first sample that
     * compresses at all means the whole chunk is tried (and kept only if smaller); if none does,
     * the chunk is stored raw.
     */
    private boolean worthCompressing(ByteBuffer src, boolean useLz4) {
        int n = src.remaining();
        if (n <= MIN_SAMPLE * SAMPLES) {
            return true; // too short to sample (a disk's short last chunk): compressing it whole costs little
        }
        int sample = Math.max(MIN_SAMPLE, Math.min(SAMPLE, n / 32));
        int stride = n / SAMPLES;
        compressed.clear();
        for (int i = 0; i < SAMPLES; i++) {
            int at = src.position() + i * stride;
            int out = useLz4
                    ? lz4.compress(src, at, sample, compressed, 0, compressed.capacity())
                    : zc.compressDirectByteBuffer(compressed, 0, compressed.capacity(), src, at, sample);
            if (out < sample - sample / 32) {
                return true;
            }
        }
        return false;
    }

    private ByteBuffer seal(ChunkId id, ByteBuffer payload) {
        byte[] nonce = nonces.next();
        try {
            cipher.init(Cipher.ENCRYPT_MODE, keys.encryption(), new GCMParameterSpec(GCM_TAG * 8, nonce));
            cipher.updateAAD(id.bytes());
            sealed.clear();
            sealed.put(nonce);
            cipher.doFinal(payload.duplicate(), sealed);
            return sealed.flip();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM encryption failed", e);
        }
    }

    /**
     * Writes the plaintext of {@code stored} (a payload whose framing {@link PackRecords#openChunk}
     * has checked) to {@code dst} from its position; returns the plaintext length. Every check
     * left is made: GCM tag, zstd frame, length, and finally the digest of the plaintext.
     */
    public int decode(ChunkPayload stored, ChunkId expected, ByteBuffer dst) {
        if ((stored.flags() & FLAG_RECIPE) != 0) {
            throw new ChunkDamagedException(expected.hex(), "record is a recipe where a plain chunk was expected");
        }
        int start = dst.position();
        int plainLength = expand(stored, expected, dst);
        ChunkId actual = digest(dst.duplicate().flip().position(start));
        if (!actual.equals(expected)) {
            throw new ChunkDamagedException(expected.hex(), "content does not match its digest");
        }
        return plainLength;
    }

    /**
     * Writes the body of recipe {@code expected} to {@code dst}: {@code stored} is a recipe record's
     * payload whose framing is checked, {@code bodyOffset} where its body starts (after the source
     * ids). Every check but the digest, which only the reassembled plaintext can pass.
     */
    public int decodeRecipeBody(ChunkPayload stored, int bodyOffset, ChunkId expected, ByteBuffer dst) {
        if ((stored.flags() & FLAG_RECIPE) == 0) {
            throw new ChunkDamagedException(expected.hex(), "record is not a recipe");
        }
        ByteBuffer p = stored.payload();
        return expand(new ChunkPayload(stored.flags(), stored.plainLength(), p.slice(p.position() + bodyOffset, p.remaining() - bodyOffset)),
                expected, dst);
    }

    private int expand(ChunkPayload stored, ChunkId expected, ByteBuffer dst) {
        String name = expected.hex();
        int flags = stored.flags();
        int plainLength = stored.plainLength();
        ByteBuffer payload = stored.payload().duplicate();
        if ((flags & FLAG_AES_GCM) != 0) {
            payload = open(expected, payload, name);
        }
        if (dst.remaining() < plainLength) {
            throw new IllegalArgumentException("destination has " + dst.remaining() + " bytes, chunk needs " + plainLength);
        }
        if ((flags & FLAG_ZSTD) != 0 && (flags & FLAG_LZ4) != 0) {
            throw new ChunkDamagedException(name, "record names two codecs");
        }
        if ((flags & FLAG_ZSTD) != 0) {
            decompress(payload, dst, plainLength, name);
        } else if ((flags & FLAG_LZ4) != 0) {
            unlz4(payload, dst, plainLength, name);
        } else if (payload.remaining() != plainLength) {
            throw new ChunkDamagedException(name, "stored length differs from plaintext length");
        } else {
            dst.put(payload);
        }
        return plainLength;
    }

    private void decompress(ByteBuffer payload, ByteBuffer dst, int plainLength, String name) {
        try {
            int n;
            if (dst.isDirect() && payload.isDirect()) {
                n = zd.decompressDirectByteBuffer(dst, dst.position(), plainLength, payload, payload.position(), payload.remaining());
                dst.position(dst.position() + n);
            } else {
                ByteBuffer in = payload;
                if (!payload.isDirect()) {
                    compressed.clear();
                    compressed.put(payload).flip();
                    in = compressed;
                }
                staging.clear();
                n = zd.decompressDirectByteBuffer(staging, 0, plainLength, in, in.position(), in.remaining());
                dst.put(staging.limit(n));
            }
            if (n != plainLength) {
                throw new ChunkDamagedException(name, "decompressed to " + n + " bytes, expected " + plainLength);
            }
        } catch (ZstdException e) {
            throw new ChunkDamagedException(name, "zstd: " + e.getMessage());
        }
    }

    private void unlz4(ByteBuffer payload, ByteBuffer dst, int plainLength, String name) {
        try {
            if (unlz4 == null) {
                unlz4 = LZ4Factory.fastestInstance().safeDecompressor();
            }
            int n = unlz4.decompress(payload, payload.position(), payload.remaining(), dst, dst.position(), plainLength);
            if (n != plainLength) {
                throw new ChunkDamagedException(name, "decompressed to " + n + " bytes, expected " + plainLength);
            }
            dst.position(dst.position() + n);
        } catch (LZ4Exception e) {
            throw new ChunkDamagedException(name, "lz4: " + e.getMessage());
        }
    }

    private ByteBuffer open(ChunkId id, ByteBuffer payload, String name) {
        if (payload.remaining() < GCM_NONCE + GCM_TAG) {
            throw new ChunkDamagedException(name, "encrypted payload too short");
        }
        try {
            byte[] iv = new byte[GCM_NONCE];
            payload.get(payload.position(), iv);
            cipher.init(Cipher.DECRYPT_MODE, keys.encryption(), new GCMParameterSpec(GCM_TAG * 8, iv));
            cipher.updateAAD(id.bytes());
            sealed.clear();
            cipher.doFinal(payload.slice(payload.position() + GCM_NONCE, payload.remaining() - GCM_NONCE), sealed);
            return sealed.flip();
        } catch (javax.crypto.AEADBadTagException e) {
            throw new ChunkDamagedException(name, "authentication tag mismatch (tampered or wrong key)");
        } catch (GeneralSecurityException e) {
            throw new ChunkDamagedException(name, "decryption failed: " + e.getMessage());
        }
    }

    /** The largest payload a chunk of {@code chunkSize} can be stored as, whichever its codec. */
    public static int maxPayloadLength(int chunkSize) {
        return compressBound(chunkSize) + GCM_NONCE + GCM_TAG;
    }

    @Override
    public void close() {
        if (frames != null) {
            frames.close();
        }
        if (zc != null) {
            zc.close();
        }
        zd.close();
    }

}
