package io.blockmover.index.chunk;

import io.blockmover.index.format.ChunkDamagedException;
import io.blockmover.index.format.ChunkId;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A chunk stored as references to 4 KiB-aligned runs of other stored chunks plus its new bytes
 * (sub-chunk dedup, repository format 3; FORMAT.md "Recipes"). Its id stays the digest of its whole
 * plaintext, so manifests, whole-chunk dedup and CBT never see the difference; a read reassembles
 * the plaintext from the sources and checks that digest. Sources are never recipes themselves, so a
 * read goes one level deep.
 *
 * @param length  the chunk's plaintext length
 * @param sources distinct source chunk ids, in first-use order
 * @param parts   consecutive runs covering {@code [0, length)}
 */
public record Recipe(int length, List<ChunkId> sources, List<Part> parts) {
    /** Version byte of the body. */
    private static final int BODY_VERSION = 1;
    private static final int LITERAL = 0;
    private static final int REF = 1;
    /** At most one source per 4 KiB block of the largest chunk. */
    public static final int MAX_SOURCES = 1024;

    /** One run of the chunk's plaintext. */
    public sealed interface Part permits Literal, Ref {
        int length();
    }

    /** New bytes, stored in the recipe. */
    public record Literal(byte[] bytes) implements Part {
        @Override
        public int length() {
            return bytes.length;
        }
    }

    /** {@code length} bytes of source {@code source} (an index into {@link #sources()}) from {@code sourceOffset}. */
    public record Ref(int source, int sourceOffset, int length) implements Part {
    }

    public Recipe {
        sources = List.copyOf(sources);
        parts = List.copyOf(parts);
        long sum = 0;
        for (Part p : parts) {
            if (p.length() <= 0) {
                throw new IllegalArgumentException("empty recipe part");
            }
            if (p instanceof Ref r && (r.source() < 0 || r.source() >= sources.size() || r.sourceOffset() < 0)) {
                throw new IllegalArgumentException("recipe part names no source");
            }
            sum += p.length();
        }
        if (sum != length || sources.isEmpty() || sources.size() > MAX_SOURCES) {
            throw new IllegalArgumentException("recipe parts cover " + sum + " of " + length + " bytes with " + sources.size() + " sources");
        }
    }

    /**
     * The clear prefix of a recipe record's payload: {@code u16 n ‖ n × 32-byte source id}. In the
     * clear (ids are already the index's keys) so gc and rebuild-index learn the sources without a key.
     */
    public byte[] encodeSources() {
        ByteBuffer b = ByteBuffer.allocate(sourcesLength(sources.size()));
        b.putShort((short) sources.size());
        for (ChunkId s : sources) {
            b.put(s.bytes());
        }
        return b.array();
    }

    public static int sourcesLength(int count) {
        return 2 + count * ChunkId.LENGTH;
    }

    /** The source ids at the start of a recipe record's payload ({@code payload}'s remaining bytes, not moved). */
    public static List<ChunkId> decodeSources(ByteBuffer payload, String name) {
        int at = payload.position();
        if (payload.remaining() < 2) {
            throw new ChunkDamagedException(name, "recipe truncated");
        }
        int n = payload.getShort(at) & 0xFFFF;
        if (n == 0 || n > MAX_SOURCES || payload.remaining() < sourcesLength(n)) {
            throw new ChunkDamagedException(name, "recipe source list out of range");
        }
        List<ChunkId> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            byte[] id = new byte[ChunkId.LENGTH];
            payload.get(at + 2 + i * ChunkId.LENGTH, id);
            out.add(ChunkId.wrap(id));
        }
        return out;
    }

    /**
     * The body, compressed and encrypted like a chunk's plaintext: {@code u8 version ‖ u32 length ‖
     * u16 parts}, then per part {@code u8 0 ‖ u32 n ‖ n bytes} (literal) or {@code u8 1 ‖ u16 source ‖
     * u32 offset ‖ u32 n} (reference).
     */
    public ByteBuffer encodeBody() {
        int size = 7;
        for (Part p : parts) {
            size += p instanceof Literal l ? 5 + l.length() : 11;
        }
        ByteBuffer b = ByteBuffer.allocate(size);
        b.put((byte) BODY_VERSION).putInt(length).putShort((short) parts.size());
        for (Part p : parts) {
            switch (p) {
                case Literal l -> b.put((byte) LITERAL).putInt(l.length()).put(l.bytes());
                case Ref r -> b.put((byte) REF).putShort((short) r.source()).putInt(r.sourceOffset()).putInt(r.length());
            }
        }
        return b.flip();
    }

    /** Parses a body ({@code body}'s remaining bytes) read back; anything malformed is the chunk's damage. */
    public static Recipe decodeBody(List<ChunkId> sources, ByteBuffer body, int maxLength, String name) {
        try {
            ByteBuffer b = body.duplicate();
            if (b.get() != BODY_VERSION) {
                throw new ChunkDamagedException(name, "recipe body of an unknown version");
            }
            int length = b.getInt();
            int count = b.getShort() & 0xFFFF;
            if (length <= 0 || length > maxLength) {
                throw new ChunkDamagedException(name, "recipe length out of range");
            }
            List<Part> parts = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                int kind = b.get();
                if (kind == LITERAL) {
                    int n = b.getInt();
                    if (n <= 0 || n > b.remaining()) {
                        throw new ChunkDamagedException(name, "recipe literal out of range");
                    }
                    byte[] bytes = new byte[n];
                    b.get(bytes);
                    parts.add(new Literal(bytes));
                } else if (kind == REF) {
                    parts.add(new Ref(b.getShort() & 0xFFFF, b.getInt(), b.getInt()));
                } else {
                    throw new ChunkDamagedException(name, "recipe part of an unknown kind");
                }
            }
            if (b.hasRemaining()) {
                throw new ChunkDamagedException(name, "recipe body has trailing bytes");
            }
            return new Recipe(length, sources, parts);
        } catch (java.nio.BufferUnderflowException | IllegalArgumentException e) {
            throw new ChunkDamagedException(name, "recipe body malformed: " + e.getMessage());
        }
    }
}
