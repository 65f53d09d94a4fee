package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/**
 * Client side of the handshake, outbound: {@link ClientFlags} and {@link OptionRequest}s. When
 * paired with a {@link ClientHandshakeDecoder} (see {@link ClientHandshakeCodec}) it tells the
 * decoder that an EXPORT_NAME went out, because that option's answer has its own shape.
 */
public final class ClientHandshakeEncoder extends MessageToByteEncoder<Object> {
    private final ClientHandshakeDecoder decoder;
    private boolean clientNoZeroes;

    /** An encoder alone; the matching decoder must be told about EXPORT_NAME by other means. */
    public ClientHandshakeEncoder() {
        this(null);
    }

    ClientHandshakeEncoder(ClientHandshakeDecoder decoder) {
        this.decoder = decoder;
    }

    @Override
    public boolean acceptOutboundMessage(Object msg) {
        return msg instanceof ClientFlags || msg instanceof OptionRequest;
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Object msg, ByteBuf out) {
        switch (msg) {
            case ClientFlags f -> {
                out.writeInt(f.flags());
                clientNoZeroes = f.noZeroes();
            }
            case OptionRequest o -> {
                encodeOption(o, out);
                if (o instanceof OptionRequest.ExportName && decoder != null) {
                    decoder.expectExportNameReply(clientNoZeroes);
                }
            }
            default -> throw new IllegalArgumentException("not a client handshake message: " + msg);
        }
    }

    static void encodeOption(OptionRequest option, ByteBuf out) {
        out.writeLong(IHAVEOPT);
        out.writeInt(option.option());
        int lengthIndex = out.writerIndex();
        out.writeInt(0);
        switch (option) {
            case OptionRequest.ExportName e -> ByteBufUtil.writeUtf8(out, e.exportName());
            case OptionRequest.Abort a -> { }
            case OptionRequest.ListExports l -> { }
            case OptionRequest.StartTls s -> { }
            case OptionRequest.StructuredReply s -> { }
            case OptionRequest.ExtendedHeaders x -> { }
            case OptionRequest.Info i -> {
                Strings.writeWithLength(out, i.exportName());
                out.writeShort(i.infoRequests().size());
                i.infoRequests().forEach(out::writeShort);
            }
            case OptionRequest.MetaContext m -> {
                Strings.writeWithLength(out, m.exportName());
                out.writeInt(m.queries().size());
                m.queries().forEach(q -> Strings.writeWithLength(out, q));
            }
            case OptionRequest.Unknown u -> out.writeZero(u.length());
            case OptionRequest.TooBig t -> throw new IllegalArgumentException("TooBig is a decoder verdict, not an option to send");
            case OptionRequest.Malformed m -> throw new IllegalArgumentException("Malformed is a decoder verdict, not an option to send");
        }
        out.setInt(lengthIndex, out.writerIndex() - lengthIndex - 4);
    }
}
