package io.blockmover.index.chunk;

import static io.blockmover.index.format.PackFormat.FLAG_AES_GCM;
import static io.blockmover.index.format.PackFormat.FLAG_LZ4;
import static io.blockmover.index.format.PackFormat.FLAG_ZSTD;

import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.FrameTable;
import io.blockmover.index.pack.PackRecords.FramePayload;

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
import java.util.ArrayList;
import java.util.List;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;

/**
 * Compresses several chunks as one frame and reads them back (format 3). The chunks' plaintexts
 * are concatenated and compressed as one zstd frame (or LZ4 block), so a chunk's neighbours serve
 * as its history: on a file system image, zstd-1 in 1 MiB frames stores 3% less than in 128 KiB
 * ones, zstd-3 6% less (docs/performance.md). When encrypted, the compressed body is sealed with
 * AES-256-GCM whose additional data is the frame's table, so the body is authenticated together
 * with the names and lengths of the chunks it holds.
 *
 * <p>A reader that needs one chunk decodes the zstd frame as a stream and stops once it has the
 * chunk's end ({@link #decode}): a read of the frame's first chunk costs one chunk's
 * decompression, of its last the whole frame's. LZ4 blocks and GCM are all-or-nothing.
 *
 * <p>One instance per thread at a time; owned by a {@link ChunkCodec}, which lends it with the
 * same codec and keys. Buffers grow to the largest frame seen.
 */
public final class FrameCodec implements AutoCloseable {
    private static final int GCM_NONCE = GcmNonces.LENGTH;
    private static final int GCM_TAG = 16;

    private final ChunkKeys keys;
    private final ZstdCompressCtx zc;
    private final ZstdDecompressCtx zd = new ZstdDecompressCtx();
    private final LZ4Compressor lz4;
    private LZ4SafeDecompressor unlz4;
    private final Cipher cipher;
    private final GcmNonces nonces;

    /** The frame being built: its chunks' plaintexts back to back. */
    private ByteBuffer plain = ByteBuffer.allocateDirect(0);
    private ByteBuffer compressed = ByteBuffer.allocateDirect(0);
    private ByteBuffer sealed = ByteBuffer.allocateDirect(0);
    private ByteBuffer record = ByteBuffer.allocateDirect(0);
    private ByteBuffer decoded = ByteBuffer.allocateDirect(0);
    private final List<ChunkId> ids = new ArrayList<>();
    private final List<Integer> lengths = new ArrayList<>();

    FrameCodec(Compression compression, ChunkKeys keys) {
        this.keys = keys;
        this.zc = compression.usesZstd()
                ? new ZstdCompressCtx().setLevel(compression.level()).setChecksum(false).setContentSize(true) : null;
        this.lz4 = compression.usesLz4() ? LZ4Factory.fastestInstance().fastCompressor() : null;
        try {
            this.cipher = keys == null ? null : Cipher.getInstance("AES/GCM/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK lacks AES-GCM", e);
        }
        this.nonces = keys == null ? null : new GcmNonces();
    }

    /** A frame's stored form: its table, record flags and body (valid until this codec's next call). */
    public record Encoded(FrameTable table, int flags, ByteBuffer body) {
    }

    /** A direct buffer for reading one whole frame record of {@code length} bytes (cleared). */
    public ByteBuffer recordBuffer(int length) {
        record = ensure(record, length);
        return record.clear();
    }

    /**
     * Decodes at least the first {@code upTo} bytes of frame {@code f}'s plaintext (see
     * {@link #decode}) into a new array of the bytes decoded.
     */
    public byte[] decodeToArray(FramePayload f, int upTo, String name) {
        int plainLength = f.table().plainLength();
        if (upTo >= plainLength && (f.flags() & (FLAG_ZSTD | FLAG_LZ4)) == FLAG_ZSTD) {
            // The whole zstd frame straight into the array: no staging copy.
            ByteBuffer in = direct(body(f, name));
            byte[] out = new byte[plainLength];
            try {
                int n = zd.decompressDirectByteBufferToByteArray(out, 0, plainLength, in, in.position(), in.remaining());
                if (n != plainLength) {
                    throw new ChunkDamagedException(name, "frame decompressed to " + n + " bytes, expected " + plainLength);
                }
            } catch (ZstdException e) {
                throw new ChunkDamagedException(name, "zstd: " + e.getMessage());
            }
            return out;
        }
        decoded = ensure(decoded, plainLength);
        int n = decode(f, decoded, upTo, name);
        byte[] out = new byte[n];
        decoded.get(0, out);
        return out;
    }

    /** Starts a new frame of at most {@code maxPlain} bytes. */
    public void begin(int maxPlain) {
        plain = ensure(plain, maxPlain);
        plain.clear();
        ids.clear();
        lengths.clear();
    }

    /** Adds a chunk (its remaining bytes, not moved) to the frame being built. */
    public void add(ChunkId id, ByteBuffer chunk) {
        if (chunk.remaining() > plain.remaining()) {
            throw new IllegalStateException("frame is full: " + plain.position() + " bytes, chunk of " + chunk.remaining());
        }
        lengths.add(chunk.remaining());
        ids.add(id);
        plain.put(chunk.duplicate());
    }

    public int count() {
        return ids.size();
    }

    /**
     * Compresses (with LZ4 when {@code useLz4}, else zstd; kept only when smaller) and, in an
     * encrypted repository, seals the frame built since {@link #begin}.
     */
    public Encoded finish(boolean useLz4) {
        int[] lens = lengths.stream().mapToInt(Integer::intValue).toArray();
        FrameTable table = new FrameTable(ids, lens);
        ByteBuffer src = plain.duplicate().flip();
        int plainLength = src.remaining();
        int flags = 0;
        ByteBuffer body = src;
        boolean lz = zc == null || (lz4 != null && useLz4);
        compressed = ensure(compressed, Math.max((int) Zstd.compressBound(plainLength), plainLength + plainLength / 255 + 16));
        compressed.clear();
        int n = lz ? lz4.compress(src, 0, plainLength, compressed, 0, compressed.capacity())
                : zc.compressDirectByteBuffer(compressed, 0, compressed.capacity(), src, 0, plainLength);
        if (n < plainLength) {
            body = compressed.limit(n);
            flags |= lz ? FLAG_LZ4 : FLAG_ZSTD;
        }
        if (keys != null) {
            body = seal(table.encode(), body);
            flags |= FLAG_AES_GCM;
        }
        return new Encoded(table, flags, body);
    }

    private ByteBuffer seal(ByteBuffer aad, ByteBuffer body) {
        byte[] nonce = nonces.next();
        try {
            sealed = ensure(sealed, body.remaining() + GCM_NONCE + GCM_TAG);
            sealed.clear();
            sealed.put(nonce);
            cipher.init(Cipher.ENCRYPT_MODE, keys.encryption(), new GCMParameterSpec(GCM_TAG * 8, nonce));
            cipher.updateAAD(aad);
            cipher.doFinal(body.duplicate(), sealed);
            return sealed.flip();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM encryption failed", e);
        }
    }

    /**
     * Decodes the plaintext of frame {@code f} (checked by {@code PackRecords.openFrame}) into
     * {@code dst} (direct, at least the frame's plaintext long) from index 0, at least its first
     * {@code upTo} bytes; returns how many it decoded (the whole frame for LZ4 and raw bodies).
     * A failure is a {@link ChunkDamagedException} naming {@code name}. Digests are the caller's.
     */
    public int decode(FramePayload f, ByteBuffer dst, int upTo, String name) {
        int plainLength = f.table().plainLength();
        if (dst.capacity() < plainLength || !dst.isDirect()) {
            throw new IllegalArgumentException("frame of " + plainLength + " bytes needs a direct buffer that large");
        }
        ByteBuffer body = body(f, name);
        int flags = f.flags();
        if ((flags & FLAG_ZSTD) != 0 && (flags & FLAG_LZ4) != 0) {
            throw new ChunkDamagedException(name, "frame names two codecs");
        }
        if ((flags & FLAG_ZSTD) != 0) {
            return unzstd(body, dst, plainLength, Math.min(upTo, plainLength), name);
        }
        if ((flags & FLAG_LZ4) != 0) {
            return unlz4(body, dst, plainLength, name);
        }
        if (body.remaining() != plainLength) {
            throw new ChunkDamagedException(name, "stored frame length differs from its plaintext length");
        }
        dst.put(0, body, body.position(), plainLength);
        return plainLength;
    }

    /** The frame's body as compressed: decrypted (and authenticated with the table) when sealed. */
    private ByteBuffer body(FramePayload f, String name) {
        ByteBuffer body = f.body().duplicate();
        return (f.flags() & FLAG_AES_GCM) != 0 ? open(f.tableBytes().duplicate(), body, name) : body;
    }

    /** {@code in}, or a direct copy of it (zstd-jni's streaming and buffer calls take direct buffers). */
    private ByteBuffer direct(ByteBuffer in) {
        if (in.isDirect()) {
            return in;
        }
        compressed = ensure(compressed, in.remaining());
        compressed.clear();
        compressed.put(in).flip();
        return compressed;
    }

    private int unzstd(ByteBuffer body, ByteBuffer dst, int plainLength, int upTo, String name) {
        ByteBuffer in = direct(body);
        try {
            if (upTo >= plainLength) {
                int n = zd.decompressDirectByteBuffer(dst, 0, plainLength, in, in.position(), in.remaining());
                if (n != plainLength) {
                    throw new ChunkDamagedException(name, "frame decompressed to " + n + " bytes, expected " + plainLength);
                }
                return n;
            }
            // A stream that stops once the output holds upTo bytes: the blocks after it are never decoded.
            zd.reset();
            ByteBuffer out = dst.duplicate().clear().limit(upTo);
            ByteBuffer src = in.duplicate();
            boolean done = false;
            while (out.hasRemaining() && !done) {
                int before = out.position() + src.position();
                done = zd.decompressDirectByteBufferStream(out, src);
                if (!done && out.position() + src.position() == before) {
                    throw new ChunkDamagedException(name, "frame ends before " + upTo + " of its " + plainLength + " bytes");
                }
            }
            zd.reset();
            if (out.position() < upTo) {
                throw new ChunkDamagedException(name, "frame decompressed to " + out.position() + " bytes, expected " + plainLength);
            }
            return out.position();
        } catch (ZstdException e) {
            zd.reset();
            throw new ChunkDamagedException(name, "zstd: " + e.getMessage());
        }
    }

    private int unlz4(ByteBuffer body, ByteBuffer dst, int plainLength, String name) {
        try {
            if (unlz4 == null) {
                unlz4 = LZ4Factory.fastestInstance().safeDecompressor();
            }
            int n = unlz4.decompress(body, body.position(), body.remaining(), dst, 0, plainLength);
            if (n != plainLength) {
                throw new ChunkDamagedException(name, "frame decompressed to " + n + " bytes, expected " + plainLength);
            }
            return n;
        } catch (LZ4Exception e) {
            throw new ChunkDamagedException(name, "lz4: " + e.getMessage());
        }
    }

    private ByteBuffer open(ByteBuffer aad, ByteBuffer body, String name) {
        if (cipher == null) {
            throw new ChunkDamagedException(name, "frame is encrypted but the repository is not");
        }
        if (body.remaining() < GCM_NONCE + GCM_TAG) {
            throw new ChunkDamagedException(name, "encrypted frame too short");
        }
        try {
            byte[] iv = new byte[GCM_NONCE];
            body.get(body.position(), iv);
            cipher.init(Cipher.DECRYPT_MODE, keys.encryption(), new GCMParameterSpec(GCM_TAG * 8, iv));
            cipher.updateAAD(aad);
            sealed = ensure(sealed, body.remaining());
            sealed.clear();
            cipher.doFinal(body.slice(body.position() + GCM_NONCE, body.remaining() - GCM_NONCE), sealed);
            return sealed.flip();
        } catch (AEADBadTagException e) {
            throw new ChunkDamagedException(name, "authentication tag mismatch (tampered or wrong key)");
        } catch (GeneralSecurityException e) {
            throw new ChunkDamagedException(name, "decryption failed: " + e.getMessage());
        }
    }

    private static ByteBuffer ensure(ByteBuffer b, int capacity) {
        return b.capacity() >= capacity ? b : ByteBuffer.allocateDirect(capacity);
    }

    @Override
    public void close() {
        if (zc != null) {
            zc.close();
        }
        zd.close();
    }
}
