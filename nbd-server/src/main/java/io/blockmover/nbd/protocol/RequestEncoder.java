package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;

import java.util.List;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/**
 * Client side of transmission, outbound: {@link NbdRequest}s. A WRITE's data goes out as its
 * own retained buffer after the 28-byte header (no copy).
 */
public final class RequestEncoder extends MessageToMessageEncoder<NbdRequest> {

    public RequestEncoder() {
        super(NbdRequest.class);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, NbdRequest request, List<Object> out) {
        ByteBuf header = ctx.alloc().ioBuffer(REQUEST_HEADER_LENGTH);
        writeHeader(request, header);
        out.add(header);
        if (request.data().isReadable()) {
            out.add(request.data().retain());
        }
    }

    static void writeHeader(NbdRequest request, ByteBuf out) {
        out.writeInt(REQUEST_MAGIC);
        out.writeShort(request.flags());
        out.writeShort(request.type());
        out.writeLong(request.cookie());
        out.writeLong(request.offset());
        out.writeInt((int) request.length());
    }
}
