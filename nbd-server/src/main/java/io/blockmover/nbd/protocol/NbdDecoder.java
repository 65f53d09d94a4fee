package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.util.List;

/**
 * What every NBD decoder shares, as Netty's AbstractBinaryMemcacheDecoder does for its
 * subclasses: once the input breaks the protocol, no later byte can be trusted to start a
 * message, so the decoder fails the connection once ({@link NbdProtocolException}) and from then
 * on discards whatever arrives. A subclass decodes in {@link #decodeMessages} and calls
 * {@link #fail} when the bytes make no sense.
 */
abstract class NbdDecoder extends ByteToMessageDecoder {
    private boolean failed;

    @Override
    protected final void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (failed) {
            in.skipBytes(in.readableBytes());
            return;
        }
        decodeMessages(ctx, in, out);
    }

    /** Decodes what {@code in} holds, as {@link ByteToMessageDecoder#decode} would. */
    protected abstract void decodeMessages(ChannelHandlerContext ctx, ByteBuf in, List<Object> out);

    /** Fails the connection: drops what is buffered, discards all that follows, and throws. */
    protected final void fail(ByteBuf in, String message) {
        failed = true;
        in.skipBytes(in.readableBytes());
        throw new NbdProtocolException(message);
    }
}
