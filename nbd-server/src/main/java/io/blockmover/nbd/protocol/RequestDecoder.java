package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;

import java.util.List;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/**
 * Server side of transmission, inbound: {@link NbdRequest}s. A WRITE's data is handed on as a
 * retained slice of the receive buffer (no copy). A bad magic or a WRITE larger than the
 * maximum payload fails the connection once ({@link NbdProtocolException}): such data cannot be
 * trusted to be followed by a request boundary, and buffering it would be unbounded.
 * Everything else (unknown commands, ranges) is the server's business and gets an error reply.
 */
public final class RequestDecoder extends NbdDecoder {
    private enum State { HEADER, WRITE_DATA }

    private final int maxPayload;
    private State state = State.HEADER;
    private int flags;
    private long cookie;
    private long offset;
    private int length;

    public RequestDecoder() {
        this(DEFAULT_MAX_PAYLOAD);
    }

    public RequestDecoder(int maxPayload) {
        this.maxPayload = maxPayload;
    }

    @Override
    protected void decodeMessages(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (true) {
            switch (state) {
                case HEADER -> {
                    if (in.readableBytes() < REQUEST_HEADER_LENGTH) {
                        return;
                    }
                    int magic = in.readInt();
                    if (magic != REQUEST_MAGIC) {
                        fail(in, "bad request magic 0x" + Integer.toHexString(magic));
                    }
                    flags = in.readUnsignedShort();
                    int type = in.readUnsignedShort();
                    cookie = in.readLong();
                    offset = in.readLong();
                    long len = in.readUnsignedInt();
                    if (type != CMD_WRITE) {
                        out.add(new NbdRequest(flags, type, cookie, offset, len, Unpooled.EMPTY_BUFFER));
                        return;
                    }
                    if (len > maxPayload) {
                        fail(in, "WRITE of " + len + " bytes exceeds the maximum payload of " + maxPayload);
                    }
                    length = (int) len;
                    state = State.WRITE_DATA;
                }
                case WRITE_DATA -> {
                    if (in.readableBytes() < length) {
                        return;
                    }
                    out.add(new NbdRequest(flags, CMD_WRITE, cookie, offset, length, in.readRetainedSlice(length)));
                    state = State.HEADER;
                    return;
                }
            }
        }
    }

}
