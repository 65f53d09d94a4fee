package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;

import java.util.List;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/**
 * Client side of the handshake, inbound: the {@link ServerGreeting}, then {@link OptionReply}s,
 * or the {@link ExportNameReply} once an EXPORT_NAME was sent. Replies longer than the cap, bad
 * magics and oldstyle servers fail the connection once with {@link NbdProtocolException}.
 */
public final class ClientHandshakeDecoder extends NbdDecoder {
    private static final int GREETING_LENGTH = 18;
    private static final int REPLY_HEADER_LENGTH = 20;

    private enum State { GREETING, REPLY_HEADER, REPLY_DATA, EXPORT_NAME_REPLY, TRANSMISSION }

    private final int maxReplyLength;
    private State state = State.GREETING;
    private boolean serverNoZeroes;
    private boolean exportNameSent;
    private boolean exportNamePadded;
    private int option;
    private int replyType;
    private int replyLength;

    public ClientHandshakeDecoder() {
        this(DEFAULT_MAX_OPTION_LENGTH);
    }

    public ClientHandshakeDecoder(int maxReplyLength) {
        this.maxReplyLength = maxReplyLength;
    }

    /**
     * The client sent NBD_OPT_EXPORT_NAME: the next server message is an {@link ExportNameReply},
     * padded unless both the server's greeting and the client's flags had NO_ZEROES.
     */
    public void expectExportNameReply(boolean clientNoZeroes) {
        exportNameSent = true;
        exportNamePadded = !(clientNoZeroes && serverNoZeroes);
    }

    @Override
    protected void decodeMessages(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (true) {
            if (state == State.REPLY_HEADER && exportNameSent) {
                state = State.EXPORT_NAME_REPLY;
            }
            switch (state) {
                case GREETING -> {
                    if (in.readableBytes() < GREETING_LENGTH) {
                        return;
                    }
                    long magic = in.readLong();
                    long opts = in.readLong();
                    if (magic != NBDMAGIC) {
                        fail(in, "not an NBD server (bad magic 0x" + Long.toHexString(magic) + ")");
                    }
                    if (opts != IHAVEOPT) {
                        fail(in, "not a newstyle NBD server (0x" + Long.toHexString(opts) + ")");
                    }
                    ServerGreeting greeting = new ServerGreeting(in.readUnsignedShort());
                    serverNoZeroes = greeting.noZeroes();
                    out.add(greeting);
                    state = State.REPLY_HEADER;
                    return;
                }
                case REPLY_HEADER -> {
                    if (in.readableBytes() < REPLY_HEADER_LENGTH) {
                        return;
                    }
                    long magic = in.readLong();
                    if (magic != OPTION_REPLY_MAGIC) {
                        fail(in, "bad option reply magic 0x" + Long.toHexString(magic));
                    }
                    option = in.readInt();
                    replyType = in.readInt();
                    long length = in.readUnsignedInt();
                    if (length > maxReplyLength) {
                        fail(in, "option reply of " + length + " bytes exceeds " + maxReplyLength);
                    }
                    replyLength = (int) length;
                    state = State.REPLY_DATA;
                }
                case REPLY_DATA -> {
                    if (in.readableBytes() < replyLength) {
                        return;
                    }
                    ByteBuf data = in.readSlice(replyLength);
                    out.add(parseReply(in, option, replyType, data));
                    // GO's ACK ends the handshake: a client that pipelined requests behind GO may
                    // already hold replies, left for the decoder that replaces this one.
                    state = option == OPT_GO && replyType == REP_ACK ? State.TRANSMISSION : State.REPLY_HEADER;
                    return;
                }
                case EXPORT_NAME_REPLY -> {
                    int length = 10 + (exportNamePadded ? EXPORT_NAME_PADDING : 0);
                    if (in.readableBytes() < length) {
                        return;
                    }
                    long size = in.readLong();
                    int flags = in.readUnsignedShort();
                    if (size < 0) {
                        fail(in, "export size beyond 2^63: " + Long.toUnsignedString(size));
                    }
                    in.skipBytes(length - 10);
                    out.add(new ExportNameReply(size, flags, exportNamePadded));
                    // Transmission follows: later bytes are left for the decoder that replaces this one.
                    state = State.TRANSMISSION;
                    exportNameSent = false;
                    return;
                }
                case TRANSMISSION -> {
                    return;
                }
            }
        }
    }

    private OptionReply parseReply(ByteBuf in, int option, int type, ByteBuf data) {
        if ((type & REP_FLAG_ERROR) != 0) {
            if (data.readableBytes() > MAX_STRING_LENGTH) {
                fail(in, "error message longer than 4096 bytes");
            }
            return new OptionReply.Error(option, type, Strings.read(data, data.readableBytes()));
        }
        return switch (type) {
            case REP_ACK -> {
                if (data.isReadable()) {
                    fail(in, "ACK with " + data.readableBytes() + " data bytes");
                }
                yield new OptionReply.Ack(option);
            }
            case REP_SERVER -> {
                String name = readString(in, data);
                if (data.readableBytes() > MAX_STRING_LENGTH) {
                    fail(in, "export details longer than 4096 bytes");
                }
                yield new OptionReply.Server(option, name, Strings.read(data, data.readableBytes()));
            }
            case REP_INFO -> new OptionReply.Info(option, parseInfo(in, data));
            case REP_META_CONTEXT -> {
                if (data.readableBytes() < 4 || data.readableBytes() - 4 > MAX_STRING_LENGTH) {
                    fail(in, "meta context reply of " + data.readableBytes() + " bytes");
                }
                int id = data.readInt();
                yield new OptionReply.MetaContext(option, id, Strings.read(data, data.readableBytes()));
            }
            default -> new OptionReply.Unknown(option, type, ByteBufUtil.getBytes(data));
        };
    }

    private InfoItem parseInfo(ByteBuf in, ByteBuf data) {
        if (data.readableBytes() < 2) {
            fail(in, "NBD_REP_INFO without an info type");
        }
        int infoType = data.readUnsignedShort();
        int rest = data.readableBytes();
        return switch (infoType) {
            case INFO_EXPORT -> {
                if (rest != 10) {
                    fail(in, "NBD_INFO_EXPORT of " + rest + " bytes");
                }
                long size = data.readLong();
                if (size < 0) {
                    fail(in, "export size beyond 2^63: " + Long.toUnsignedString(size));
                }
                yield new InfoItem.Export(size, data.readUnsignedShort());
            }
            case INFO_NAME, INFO_DESCRIPTION -> {
                if (rest > MAX_STRING_LENGTH) {
                    fail(in, "info string longer than 4096 bytes");
                }
                String s = Strings.read(data, rest);
                yield infoType == INFO_NAME ? new InfoItem.Name(s) : new InfoItem.Description(s);
            }
            case INFO_BLOCK_SIZE -> {
                if (rest != 12) {
                    fail(in, "NBD_INFO_BLOCK_SIZE of " + rest + " bytes");
                }
                yield new InfoItem.BlockSize(data.readInt(), data.readInt(), data.readInt());
            }
            default -> new InfoItem.Unknown(infoType, ByteBufUtil.getBytes(data));
        };
    }

    private String readString(ByteBuf in, ByteBuf data) {
        if (data.readableBytes() < 4) {
            fail(in, "truncated string");
        }
        long length = data.readUnsignedInt();
        if (length > data.readableBytes() || length > MAX_STRING_LENGTH) {
            fail(in, "string length " + length + " exceeds its reply");
        }
        return Strings.read(data, (int) length);
    }
}
