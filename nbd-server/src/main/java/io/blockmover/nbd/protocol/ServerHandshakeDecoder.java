package io.blockmover.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;

import java.util.ArrayList;
import java.util.List;

import static io.blockmover.nbd.protocol.NbdConstants.*;

/**
 * Server side of the handshake, inbound: the client's flags, then a stream of
 * {@link OptionRequest}s. Option data longer than the cap is discarded as it arrives and reported
 * as {@link OptionRequest.TooBig}, so a hostile length never makes us buffer. A bad option magic
 * fails the connection once ({@link NbdProtocolException}); everything after that is dropped.
 */
public final class ServerHandshakeDecoder extends NbdDecoder {
    private static final int OPTION_HEADER_LENGTH = 16;

    private enum State { CLIENT_FLAGS, OPTION_HEADER, OPTION_DATA, SKIP_DATA }

    private final int maxOptionLength;
    private State state = State.CLIENT_FLAGS;
    private int option;
    private long optionLength;
    private long toSkip;

    public ServerHandshakeDecoder() {
        this(DEFAULT_MAX_OPTION_LENGTH);
    }

    public ServerHandshakeDecoder(int maxOptionLength) {
        this.maxOptionLength = maxOptionLength;
    }

    @Override
    protected void decodeMessages(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        // One call may run several states: a zero-length option must be emitted in the same
        // call that consumed its header (Netty rejects output without consumed input).
        while (true) {
            switch (state) {
                case CLIENT_FLAGS -> {
                    if (in.readableBytes() < 4) {
                        return;
                    }
                    out.add(new ClientFlags(in.readInt()));
                    state = State.OPTION_HEADER;
                    return;
                }
                case OPTION_HEADER -> {
                    if (in.readableBytes() < OPTION_HEADER_LENGTH) {
                        return;
                    }
                    long magic = in.readLong();
                    if (magic != IHAVEOPT) {
                        fail(in, "bad option magic 0x" + Long.toHexString(magic));
                    }
                    option = in.readInt();
                    optionLength = in.readUnsignedInt();
                    if (optionLength > maxOptionLength) {
                        toSkip = optionLength;
                        state = State.SKIP_DATA;
                    } else {
                        state = State.OPTION_DATA;
                    }
                }
                case OPTION_DATA -> {
                    if (in.readableBytes() < optionLength) {
                        return;
                    }
                    out.add(parse(option, in.readSlice((int) optionLength)));
                    state = State.OPTION_HEADER;
                    return;
                }
                case SKIP_DATA -> {
                    int n = (int) Math.min(toSkip, in.readableBytes());
                    in.skipBytes(n);
                    toSkip -= n;
                    if (toSkip > 0) {
                        return;
                    }
                    out.add(new OptionRequest.TooBig(option, optionLength));
                    state = State.OPTION_HEADER;
                    return;
                }
            }
        }
    }

    /** Parses one option's data, which is exactly the bytes the client declared. */
    static OptionRequest parse(int option, ByteBuf data) {
        return switch (option) {
            case OPT_EXPORT_NAME -> data.readableBytes() > MAX_STRING_LENGTH
                    ? new OptionRequest.Malformed(option, "export name longer than 4096 bytes")
                    : new OptionRequest.ExportName(Strings.read(data, data.readableBytes()));
            case OPT_ABORT -> empty(option, data, new OptionRequest.Abort());
            case OPT_LIST -> empty(option, data, new OptionRequest.ListExports());
            case OPT_STARTTLS -> empty(option, data, new OptionRequest.StartTls());
            case OPT_STRUCTURED_REPLY -> empty(option, data, new OptionRequest.StructuredReply());
            case OPT_EXTENDED_HEADERS -> empty(option, data, new OptionRequest.ExtendedHeaders());
            case OPT_INFO, OPT_GO -> parseInfo(option, data);
            case OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT -> parseMetaContext(option, data);
            default -> new OptionRequest.Unknown(option, data.readableBytes());
        };
    }

    private static OptionRequest empty(int option, ByteBuf data, OptionRequest request) {
        return data.isReadable()
                ? new OptionRequest.Malformed(option, optionName(option) + " carries no data but got " + data.readableBytes() + " bytes")
                : request;
    }

    private static OptionRequest parseInfo(int option, ByteBuf data) {
        String name = readString(data);
        if (name == null || data.readableBytes() < 2) {
            return new OptionRequest.Malformed(option, "truncated export name");
        }
        int count = data.readUnsignedShort();
        if (data.readableBytes() != count * 2) {
            return new OptionRequest.Malformed(option, "info request count " + count + " does not match its length");
        }
        List<Integer> requests = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            requests.add(data.readUnsignedShort());
        }
        return new OptionRequest.Info(option == OPT_GO, name, requests);
    }

    private static OptionRequest parseMetaContext(int option, ByteBuf data) {
        String name = readString(data);
        if (name == null || data.readableBytes() < 4) {
            return new OptionRequest.Malformed(option, "truncated export name");
        }
        long count = data.readUnsignedInt();
        // Each query takes at least its 4-byte length, so the count is bounded by the data.
        if (count * 4 > data.readableBytes()) {
            return new OptionRequest.Malformed(option, "query count " + count + " exceeds the option's length");
        }
        List<String> queries = new ArrayList<>((int) count);
        for (long i = 0; i < count; i++) {
            String query = readString(data);
            if (query == null) {
                return new OptionRequest.Malformed(option, "truncated query");
            }
            queries.add(query);
        }
        if (data.isReadable()) {
            return new OptionRequest.Malformed(option, data.readableBytes() + " trailing bytes");
        }
        return new OptionRequest.MetaContext(option == OPT_SET_META_CONTEXT, name, queries);
    }

    /** A u32-length-prefixed string, or null when it does not fit the data or the 4096-byte limit. */
    private static String readString(ByteBuf data) {
        if (data.readableBytes() < 4) {
            return null;
        }
        long length = data.readUnsignedInt();
        if (length > data.readableBytes() || length > MAX_STRING_LENGTH) {
            return null;
        }
        return Strings.read(data, (int) length);
    }
}
