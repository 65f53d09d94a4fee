package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/**
 * Client side of transmission, inbound: {@link NbdReply}s, simple or structured. READ data is
 * emitted as a retained slice of the receive buffer (no copy); the consumer releases the reply.
 * A simple reply's data length comes from {@link ReplyLengths} because the wire does not say it.
 * Bad magic, an unknown cookie, an impossible chunk or a chunk longer than the cap fail the
 * connection once with {@link NbdProtocolException}.
 */
public final class ReplyDecoder extends NbdDecoder {
    private enum State { HEADER, SIMPLE_DATA, CHUNK_PAYLOAD }

    private final ReplyLengths replyLengths;
    private final int maxChunkLength;
    private State state = State.HEADER;
    private long cookie;
    private int flags;
    private int chunkType;
    private int length;

    /** A decoder accepting structured chunks of up to the default payload plus 1 MiB (block status). */
    public ReplyDecoder(ReplyLengths replyLengths) {
        this(replyLengths, DEFAULT_MAX_PAYLOAD + 1024 * 1024);
    }

    public ReplyDecoder(ReplyLengths replyLengths, int maxChunkLength) {
        this.replyLengths = Objects.requireNonNull(replyLengths);
        this.maxChunkLength = maxChunkLength;
    }

    @Override
    protected void decodeMessages(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (true) {
            switch (state) {
                case HEADER -> {
                    if (in.readableBytes() < 4) {
                        return;
                    }
                    int magic = in.getInt(in.readerIndex());
                    if (magic == SIMPLE_REPLY_MAGIC) {
                        if (in.readableBytes() < SIMPLE_REPLY_HEADER_LENGTH) {
                            return;
                        }
                        in.skipBytes(4);
                        int error = in.readInt();
                        cookie = in.readLong();
                        if (error != 0) {
                            out.add(NbdReply.Simple.error(cookie, error));
                            return;
                        }
                        long dataLength = replyLengths.dataLength(cookie);
                        if (dataLength == ReplyLengths.UNKNOWN) {
                            fail(in, "simple reply for unknown cookie " + cookie);
                        }
                        if (dataLength < 0 || dataLength > maxChunkLength) {
                            fail(in, "simple reply data length " + dataLength + " exceeds " + maxChunkLength);
                        }
                        if (dataLength == 0) {
                            out.add(NbdReply.Simple.ok(cookie));
                            return;
                        }
                        length = (int) dataLength;
                        state = State.SIMPLE_DATA;
                    } else if (magic == STRUCTURED_REPLY_MAGIC) {
                        if (in.readableBytes() < STRUCTURED_REPLY_HEADER_LENGTH) {
                            return;
                        }
                        in.skipBytes(4);
                        flags = in.readUnsignedShort();
                        chunkType = in.readUnsignedShort();
                        cookie = in.readLong();
                        long len = in.readUnsignedInt();
                        if (len > maxChunkLength) {
                            fail(in, "reply chunk of " + len + " bytes exceeds " + maxChunkLength);
                        }
                        length = (int) len;
                        state = State.CHUNK_PAYLOAD;
                    } else {
                        fail(in, "bad reply magic 0x" + Integer.toHexString(magic));
                    }
                }
                case SIMPLE_DATA -> {
                    if (in.readableBytes() < length) {
                        return;
                    }
                    out.add(new NbdReply.Simple(cookie, 0, in.readRetainedSlice(length)));
                    state = State.HEADER;
                    return;
                }
                case CHUNK_PAYLOAD -> {
                    if (in.readableBytes() < length) {
                        return;
                    }
                    out.add(parseChunk(in));
                    state = State.HEADER;
                    return;
                }
            }
        }
    }

    private NbdReply parseChunk(ByteBuf in) {
        boolean done = (flags & REPLY_FLAG_DONE) != 0;
        switch (chunkType) {
            case REPLY_TYPE_NONE -> {
                if (length != 0 || !done) {
                    fail(in, "NONE chunk must be empty and final");
                }
                return new NbdReply.None(cookie);
            }
            case REPLY_TYPE_OFFSET_DATA -> {
                if (length <= 8) {
                    fail(in, "OFFSET_DATA chunk of " + length + " bytes");
                }
                long offset = in.readLong();
                return new NbdReply.OffsetData(cookie, done, offset, in.readRetainedSlice(length - 8));
            }
            case REPLY_TYPE_OFFSET_HOLE -> {
                if (length != 12) {
                    fail(in, "OFFSET_HOLE chunk of " + length + " bytes");
                }
                long offset = in.readLong();
                int size = in.readInt();
                if (size == 0) {
                    fail(in, "OFFSET_HOLE of length 0");
                }
                return new NbdReply.OffsetHole(cookie, done, offset, size);
            }
            case REPLY_TYPE_BLOCK_STATUS -> {
                if (length < 12 || (length - 4) % 8 != 0) {
                    fail(in, "BLOCK_STATUS chunk of " + length + " bytes");
                }
                int contextId = in.readInt();
                int count = (length - 4) / 8;
                List<BlockStatusDescriptor> descriptors = new ArrayList<>(count);
                for (int i = 0; i < count; i++) {
                    long extentLength = in.readUnsignedInt();
                    int extentFlags = in.readInt();
                    if (extentLength == 0) {
                        fail(in, "BLOCK_STATUS descriptor of length 0");
                    }
                    descriptors.add(new BlockStatusDescriptor(extentLength, extentFlags));
                }
                return new NbdReply.BlockStatus(cookie, done, contextId, descriptors);
            }
            default -> {
                if ((chunkType & REPLY_TYPE_FLAG_ERROR) == 0) {
                    fail(in, "unknown reply chunk type " + chunkType);
                }
                return parseError(in, done);
            }
        }
    }

    /** ERROR, ERROR_OFFSET and, as the spec asks, any unknown error type read as a plain error. */
    private NbdReply parseError(ByteBuf in, boolean done) {
        if (length < 6) {
            fail(in, "error chunk of " + length + " bytes");
        }
        int error = in.readInt();
        int messageLength = in.readUnsignedShort();
        int rest = length - 6;
        if (messageLength > rest || messageLength > MAX_STRING_LENGTH) {
            fail(in, "error message length " + messageLength + " exceeds its chunk");
        }
        if (error == 0) {
            fail(in, "error chunk with error value 0");
        }
        String message = Strings.read(in, messageLength);
        rest -= messageLength;
        if (chunkType == REPLY_TYPE_ERROR_OFFSET) {
            if (rest != 8) {
                fail(in, "ERROR_OFFSET chunk has " + rest + " bytes after its message");
            }
            return new NbdReply.ErrorOffset(cookie, done, error, message, in.readLong());
        }
        if (chunkType == REPLY_TYPE_ERROR && rest != 0) {
            fail(in, "ERROR chunk has " + rest + " bytes after its message");
        }
        in.skipBytes(rest);
        return new NbdReply.Error(cookie, done, error, message);
    }

}
