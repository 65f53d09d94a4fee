package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;

import java.util.List;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/**
 * Server side of transmission, outbound: {@link NbdReply}s. Data-carrying replies become two
 * buffers, a small header and the retained payload, written together by a gathering write, so
 * read data is never copied on its way to the socket. The server writes replies as wire buffers
 * itself ({@link #encodeSmall}, and data read in place behind {@link #writeOffsetDataHeader}):
 * one buffer per reply, and a pipeline that only ever sees {@code ByteBuf}s.
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
                writeSimpleHeader(header, s.cookie(), s.error());
                out.add(header);
                if (s.data().isReadable()) {
                    out.add(s.data().retain());
                }
            }
            case NbdReply.OffsetData d -> {
                ByteBuf header = ctx.alloc().ioBuffer(OFFSET_DATA_HEADER_LENGTH);
                writeOffsetDataHeader(header, d.cookie(), d.done(), d.offset(), d.data().readableBytes());
                out.add(header);
                out.add(d.data().retain());
            }
            case NbdReply.Chunk c -> out.add(encodeSmall(ctx.alloc(), c));
        }
    }

    /** Bytes of an OFFSET_DATA chunk before its data: chunk header and offset. */
    public static final int OFFSET_DATA_HEADER_LENGTH = STRUCTURED_REPLY_HEADER_LENGTH + 8;

    /**
     * A reply without a data buffer (a simple reply without data, or any chunk but OFFSET_DATA)
     * as its wire bytes, for a server that writes wire buffers itself.
     */
    public static ByteBuf encodeSmall(ByteBufAllocator alloc, NbdReply reply) {
        switch (reply) {
            case NbdReply.Simple s -> {
                if (s.data().isReadable()) {
                    throw new IllegalArgumentException("a simple reply with data carries a buffer");
                }
                ByteBuf buf = alloc.ioBuffer(SIMPLE_REPLY_HEADER_LENGTH);
                writeSimpleHeader(buf, s.cookie(), s.error());
                return buf;
            }
            case NbdReply.Chunk c -> {
                int estimate = c instanceof NbdReply.BlockStatus b ? 4 + 8 * b.descriptors().size() : 64;
                ByteBuf buf = alloc.ioBuffer(STRUCTURED_REPLY_HEADER_LENGTH + estimate);
                encodeSmallChunk(c, buf);
                return buf;
            }
        }
    }

    /** Writes a simple reply's header; for a successful READ its data follows. */
    public static void writeSimpleHeader(ByteBuf out, long cookie, int error) {
        out.writeInt(SIMPLE_REPLY_MAGIC);
        out.writeInt(error);
        out.writeLong(cookie);
    }

    /** Writes an OFFSET_DATA chunk's header and offset ({@link #OFFSET_DATA_HEADER_LENGTH} bytes); its data follows. */
    public static void writeOffsetDataHeader(ByteBuf out, long cookie, boolean done, long offset, int dataLength) {
        out.writeInt(STRUCTURED_REPLY_MAGIC);
        out.writeShort(done ? REPLY_FLAG_DONE : 0);
        out.writeShort(REPLY_TYPE_OFFSET_DATA);
        out.writeLong(cookie);
        out.writeInt(8 + dataLength);
        out.writeLong(offset);
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
