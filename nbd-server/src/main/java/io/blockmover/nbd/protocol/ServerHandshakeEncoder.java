package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/** Server side of the handshake, outbound: {@link ServerGreeting}, {@link OptionReply}, {@link ExportNameReply}. */
public final class ServerHandshakeEncoder extends MessageToByteEncoder<Object> {

    @Override
    public boolean acceptOutboundMessage(Object msg) {
        return msg instanceof ServerGreeting || msg instanceof OptionReply || msg instanceof ExportNameReply;
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Object msg, ByteBuf out) {
        switch (msg) {
            case ServerGreeting g -> {
                out.writeLong(NBDMAGIC);
                out.writeLong(IHAVEOPT);
                out.writeShort(g.handshakeFlags());
            }
            case ExportNameReply r -> {
                out.writeLong(r.size());
                out.writeShort(r.transmissionFlags());
                if (r.zeroPadding()) {
                    out.writeZero(EXPORT_NAME_PADDING);
                }
            }
            case OptionReply r -> encodeOptionReply(r, out);
            default -> throw new IllegalArgumentException("not a handshake message: " + msg);
        }
    }

    static void encodeOptionReply(OptionReply reply, ByteBuf out) {
        out.writeLong(OPTION_REPLY_MAGIC);
        out.writeInt(reply.option());
        out.writeInt(reply.type());
        int lengthIndex = out.writerIndex();
        out.writeInt(0);
        switch (reply) {
            case OptionReply.Ack a -> { }
            case OptionReply.Server s -> {
                Strings.writeWithLength(out, s.exportName());
                ByteBufUtil.writeUtf8(out, s.details());
            }
            case OptionReply.Info i -> encodeInfo(i.item(), out);
            case OptionReply.MetaContext m -> {
                out.writeInt(m.contextId());
                ByteBufUtil.writeUtf8(out, m.name());
            }
            case OptionReply.Error e -> ByteBufUtil.writeUtf8(out, e.message());
            case OptionReply.Unknown u -> out.writeBytes(u.data());
        }
        out.setInt(lengthIndex, out.writerIndex() - lengthIndex - 4);
    }

    private static void encodeInfo(InfoItem item, ByteBuf out) {
        out.writeShort(item.infoType());
        switch (item) {
            case InfoItem.Export e -> {
                out.writeLong(e.size());
                out.writeShort(e.transmissionFlags());
            }
            case InfoItem.Name n -> ByteBufUtil.writeUtf8(out, n.name());
            case InfoItem.Description d -> ByteBufUtil.writeUtf8(out, d.description());
            case InfoItem.BlockSize b -> {
                out.writeInt(b.minimum());
                out.writeInt(b.preferred());
                out.writeInt(b.maximumPayload());
            }
            case InfoItem.Unknown u -> out.writeBytes(u.data());
        }
    }
}
