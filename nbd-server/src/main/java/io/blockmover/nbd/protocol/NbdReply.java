package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.util.List;
import java.util.Objects;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/** A transmission-phase reply: a simple reply or one chunk of a structured reply. */
public sealed interface NbdReply {

    long cookie();

    /** True when no more replies follow for this cookie. */
    boolean done();

    /**
     * u32 magic 0x67446698, u32 error, u64 cookie, then for a successful READ the data. This
     * message owns one reference to {@code data} (empty unless it answers a READ).
     */
    record Simple(long cookie, int error, ByteBuf data) implements NbdReply, DataHolder {
        public Simple {
            Objects.requireNonNull(data, "data");
            if (error != 0 && data.isReadable()) {
                throw new IllegalArgumentException("an error reply carries no data");
            }
        }

        public static Simple ok(long cookie) {
            return new Simple(cookie, 0, Unpooled.EMPTY_BUFFER);
        }

        public static Simple error(long cookie, int error) {
            return new Simple(cookie, error, Unpooled.EMPTY_BUFFER);
        }

        public boolean done() {
            return true;
        }

        @Override
        public String toString() {
            return "Simple[cookie=" + cookie + ", error=" + errorName(error) + ", data=" + data.readableBytes() + "]";
        }
    }

    /** A structured reply chunk: u32 magic 0x668e33ef, u16 flags, u16 type, u64 cookie, u32 length, payload. */
    sealed interface Chunk extends NbdReply {
        int chunkType();

        default int chunkFlags() {
            return done() ? REPLY_FLAG_DONE : 0;
        }
    }

    /** NBD_REPLY_TYPE_NONE: ends a structured reply that had nothing more to say; always done. */
    record None(long cookie) implements Chunk {
        public boolean done() {
            return true;
        }

        public int chunkType() {
            return REPLY_TYPE_NONE;
        }
    }

    /** NBD_REPLY_TYPE_OFFSET_DATA: u64 offset then data. Owns one reference to {@code data}. */
    record OffsetData(long cookie, boolean done, long offset, ByteBuf data) implements Chunk, DataHolder {
        public OffsetData {
            Objects.requireNonNull(data, "data");
        }

        public int chunkType() {
            return REPLY_TYPE_OFFSET_DATA;
        }

        @Override
        public String toString() {
            return "OffsetData[cookie=" + cookie + ", done=" + done + ", offset=" + offset + ", data=" + data.readableBytes() + "]";
        }
    }

    /** NBD_REPLY_TYPE_OFFSET_HOLE: u64 offset, u32 length of a run that reads as zeros. */
    record OffsetHole(long cookie, boolean done, long offset, int length) implements Chunk {
        public OffsetHole {
            if (length <= 0) {
                throw new IllegalArgumentException("hole length must be positive: " + length);
            }
        }

        public int chunkType() {
            return REPLY_TYPE_OFFSET_HOLE;
        }
    }

    /** NBD_REPLY_TYPE_BLOCK_STATUS: u32 context id, then (u32 length, u32 flags) descriptors. */
    record BlockStatus(long cookie, boolean done, int contextId, List<BlockStatusDescriptor> descriptors) implements Chunk {
        public BlockStatus {
            descriptors = List.copyOf(descriptors);
            if (descriptors.isEmpty()) {
                throw new IllegalArgumentException("a block status chunk needs at least one descriptor");
            }
        }

        public int chunkType() {
            return REPLY_TYPE_BLOCK_STATUS;
        }
    }

    /** NBD_REPLY_TYPE_ERROR: u32 error, u16 message length, message. */
    record Error(long cookie, boolean done, int error, String message) implements Chunk {
        public Error {
            if (error == 0) {
                throw new IllegalArgumentException("an error chunk needs a non-zero error");
            }
            Strings.checkLength(message, "error message");
        }

        public int chunkType() {
            return REPLY_TYPE_ERROR;
        }
    }

    /** NBD_REPLY_TYPE_ERROR_OFFSET: like {@link Error} plus the u64 offset where it happened. */
    record ErrorOffset(long cookie, boolean done, int error, String message, long offset) implements Chunk {
        public ErrorOffset {
            if (error == 0) {
                throw new IllegalArgumentException("an error chunk needs a non-zero error");
            }
            Strings.checkLength(message, "error message");
        }

        public int chunkType() {
            return REPLY_TYPE_ERROR_OFFSET;
        }
    }
}
