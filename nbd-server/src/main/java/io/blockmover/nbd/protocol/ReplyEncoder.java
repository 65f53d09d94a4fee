package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;

import java.util.List;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/**
 * Server side of transmission, outbound: {@link NbdReply}s. Data-carrying replies become two
 * buffers, a small header and the retained payload, written together by a gathering write, so
 * read data is never copied on its way to the socket.
 */
public final class ReplyEncoder extends MessageToMessageEncoder<NbdReply> {

    public ReplyEncoder() {
        super(NbdReply.class);
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, NbdReply reply, List<Object> out) {
        switch (reply) {
            case NbdReply.Simple s -> {
                ByteBuf header = ctx.alloc().ioBuffer(SIMPLE_REPLY_HEADER_LENGTH);
                header.writeInt(SIMPLE_REPLY_MAGIC);
                header.writeInt(s.error());
                header.writeLong(s.cookie());
                out.add(header);
                if (s.data().isReadable()) {
                    out.add(s.data().retain());
                }
            }
            case NbdReply.OffsetData d -> {
                ByteBuf header = ctx.alloc().ioBuffer(STRUCTURED_REPLY_HEADER_LENGTH + 8);
                writeChunkHeader(header, d, 8L + d.data().readableBytes());
                header.writeLong(d.offset());
                out.add(header);
                out.add(d.data().retain());
            }
            case NbdReply.Chunk c -> {
                int estimate = c instanceof NbdReply.BlockStatus b ? 4 + 8 * b.descriptors().size() : 64;
                ByteBuf buf = ctx.alloc().ioBuffer(STRUCTURED_REPLY_HEADER_LENGTH + estimate);
                encodeSmallChunk(c, buf);
                out.add(buf);
            }
        }
    }

    /** Encodes a chunk without a data buffer (all but OFFSET_DATA) into one buffer. */
    static void encodeSmallChunk(NbdReply.Chunk chunk, ByteBuf out) {
        int start = out.writerIndex();
        writeChunkHeader(out, chunk, 0);
        switch (chunk) {
            case NbdReply.None n -> { }
            case NbdReply.OffsetHole h -> {
                out.writeLong(h.offset());
                out.writeInt(h.length());
            }
            case NbdReply.BlockStatus b -> {
                out.writeInt(b.contextId());
                for (BlockStatusDescriptor d : b.descriptors()) {
                    out.writeInt((int) d.length());
                    out.writeInt(d.flags());
                }
            }
            case NbdReply.Error e -> {
                out.writeInt(e.error());
                out.writeShort(ByteBufUtil.utf8Bytes(e.message()));
                ByteBufUtil.writeUtf8(out, e.message());
            }
            case NbdReply.ErrorOffset e -> {
                out.writeInt(e.error());
                out.writeShort(ByteBufUtil.utf8Bytes(e.message()));
                ByteBufUtil.writeUtf8(out, e.message());
                out.writeLong(e.offset());
            }
            case NbdReply.OffsetData d -> throw new IllegalArgumentException("OFFSET_DATA carries a buffer");
        }
        out.setInt(start + 16, out.writerIndex() - start - STRUCTURED_REPLY_HEADER_LENGTH);
    }

    private static void writeChunkHeader(ByteBuf out, NbdReply.Chunk chunk, long payloadLength) {
        out.writeInt(STRUCTURED_REPLY_MAGIC);
        out.writeShort(chunk.chunkFlags());
        out.writeShort(chunk.chunkType());
        out.writeLong(chunk.cookie());
        out.writeInt((int) payloadLength);
    }
}
