package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.util.Objects;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/**
 * A transmission request: u32 magic, u16 command flags, u16 type, u64 cookie, u64 offset,
 * u32 length, then {@code length} bytes of data for WRITE. {@code data} is empty except for
 * WRITE, where it holds exactly {@code length} bytes; this message owns one reference to it.
 */
public record NbdRequest(int flags, int type, long cookie, long offset, long length, ByteBuf data)
        implements DataHolder {

    public NbdRequest {
        Objects.requireNonNull(data, "data");
        if ((flags & ~0xFFFF) != 0 || (type & ~0xFFFF) != 0) {
            throw new IllegalArgumentException("flags and type are 16 bits");
        }
        if (length < 0 || length > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("request length must fit 32 bits: " + length);
        }
        if (type == CMD_WRITE && data.readableBytes() != length) {
            throw new IllegalArgumentException("WRITE length " + length + " but " + data.readableBytes() + " data bytes");
        }
        if (type != CMD_WRITE && data.isReadable()) {
            throw new IllegalArgumentException(commandName(type) + " carries no data");
        }
    }

    public static NbdRequest read(long cookie, long offset, int length, int flags) {
        return new NbdRequest(flags, CMD_READ, cookie, offset, Integer.toUnsignedLong(length), Unpooled.EMPTY_BUFFER);
    }

    /** A WRITE of all readable bytes of {@code data}; the request takes over the caller's reference. */
    public static NbdRequest write(long cookie, long offset, ByteBuf data, int flags) {
        return new NbdRequest(flags, CMD_WRITE, cookie, offset, data.readableBytes(), data);
    }

    /** A command without data: FLUSH, TRIM, CACHE, WRITE_ZEROES, BLOCK_STATUS, DISC. */
    public static NbdRequest command(int type, long cookie, long offset, long length, int flags) {
        return new NbdRequest(flags, type, cookie, offset, length, Unpooled.EMPTY_BUFFER);
    }

    public boolean hasFlag(int flag) {
        return (flags & flag) != 0;
    }

    @Override
    public String toString() {
        return commandName(type) + "[cookie=" + cookie + ", offset=" + offset + ", length=" + length
                + ", flags=0x" + Integer.toHexString(flags) + "]";
    }
}
