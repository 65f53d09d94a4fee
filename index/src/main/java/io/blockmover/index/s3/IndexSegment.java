package io.blockmover.index.s3;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.function.BiConsumer;
import java.util.zip.CRC32C;

/**
 * An immutable object of chunk index entries, written by one proxy for the packs it published
 * (or by gc for the whole index): {@code "BMIX" u32 version u32 count}, then per entry the
 * 32-byte chunk id, a u16 value length and the chunks-CF value (the location, opaque here), and a
 * CRC32C of everything before it. Big-endian, like the rest of the format.
 */
final class IndexSegment {
    static final int MAGIC = 0x424D4958; // "BMIX"
    static final int VERSION = 1;
    private static final int KEY = 32;

    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final DataOutputStream out = new DataOutputStream(bytes);
    private int count;

    void add(byte[] key, byte[] value) {
        if (key.length != KEY || value.length > 0xFFFF) {
            throw new IllegalArgumentException("index entry of " + key.length + "+" + value.length + " bytes");
        }
        try {
            out.write(key);
            out.writeShort(value.length);
            out.write(value);
        } catch (IOException e) {
            throw new IllegalStateException(e); // in memory
        }
        count++;
    }

    int count() {
        return count;
    }

    byte[] encode() {
        byte[] body = bytes.toByteArray();
        ByteBuffer b = ByteBuffer.allocate(12 + body.length + 4);
        b.putInt(MAGIC).putInt(VERSION).putInt(count).put(body);
        CRC32C c = new CRC32C();
        c.update(b.array(), 0, b.position());
        b.putInt((int) c.getValue());
        return b.array();
    }

    /** Calls {@code entry} with each (chunk id, value); throws if the object is damaged, before any call. */
    static void decode(byte[] seg, String name, BiConsumer<byte[], byte[]> entry) throws IOException {
        if (seg.length < 16) {
            throw new IOException("index segment " + name + " is truncated");
        }
        ByteBuffer b = ByteBuffer.wrap(seg);
        CRC32C c = new CRC32C();
        c.update(seg, 0, seg.length - 4);
        if (b.getInt(0) != MAGIC || b.getInt(seg.length - 4) != (int) c.getValue()) {
            throw new IOException("index segment " + name + " is damaged (bad magic or checksum)");
        }
        if (b.getInt(4) != VERSION) {
            throw new IOException("index segment " + name + " has version " + b.getInt(4) + ", this build reads " + VERSION);
        }
        int n = b.getInt(8);
        b.position(12);
        for (int i = 0; i < n; i++) {
            byte[] k = new byte[KEY];
            b.get(k);
            byte[] v = new byte[b.getShort() & 0xFFFF];
            b.get(v);
            entry.accept(k, v);
        }
    }
}
