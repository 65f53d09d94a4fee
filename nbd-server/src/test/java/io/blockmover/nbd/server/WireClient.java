package io.blockmover.nbd.server;

import io.blockmover.nbd.protocol.ClientCodec;
import io.blockmover.nbd.protocol.ClientFlags;
import io.blockmover.nbd.protocol.ClientHandshakeCodec;
import io.blockmover.nbd.protocol.OptionReply;
import io.blockmover.nbd.protocol.OptionRequest;
import io.blockmover.nbd.protocol.ServerGreeting;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A blocking test client that speaks through our own protocol codecs: messages are encoded
 * and decoded in an {@link EmbeddedChannel}, bytes travel over a real socket. It lets tests
 * script exact exchanges (including hostile ones) with the server.
 */
final class WireClient implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final EmbeddedChannel codec = new EmbeddedChannel(new ClientHandshakeCodec());
    private final Map<Long, Long> readLengths = new ConcurrentHashMap<>();

    private WireClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    static WireClient connect(InetSocketAddress address) throws IOException {
        Socket s = new Socket();
        s.connect(address, 10_000);
        s.setSoTimeout(10_000);
        return new WireClient(s);
    }

    /** Connects, reads the greeting and sends fixed-newstyle + no-zeroes flags. */
    static WireClient negotiate(InetSocketAddress address) throws IOException {
        WireClient c = connect(address);
        ServerGreeting g = c.receive();
        if (!g.fixedNewstyle() || !g.noZeroes()) {
            throw new AssertionError("unexpected greeting " + g);
        }
        c.send(ClientFlags.FIXED_NEWSTYLE_NO_ZEROES);
        return c;
    }

    void send(Object... messages) throws IOException {
        codec.writeOutbound(messages);
        ByteBuf b;
        while ((b = codec.readOutbound()) != null) {
            try {
                b.readBytes(out, b.readableBytes());
            } finally {
                b.release();
            }
        }
        out.flush();
    }

    /** The bytes the codec produces for these messages, without sending them. */
    byte[] encode(Object... messages) {
        codec.writeOutbound(messages);
        ByteBuf all = Unpooled.buffer();
        ByteBuf b;
        while ((b = codec.readOutbound()) != null) {
            all.writeBytes(b);
            b.release();
        }
        byte[] bytes = new byte[all.readableBytes()];
        all.readBytes(bytes);
        return bytes;
    }

    void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** The next decoded message; fails if the server closes first or is silent for 10 s. */
    @SuppressWarnings("unchecked")
    <T> T receive() throws IOException {
        while (true) {
            Object msg = codec.readInbound();
            if (msg != null) {
                return (T) msg;
            }
            byte[] chunk = new byte[65536];
            int n = in.read(chunk);
            if (n < 0) {
                throw new AssertionError("server closed the connection");
            }
            codec.writeInbound(Unpooled.wrappedBuffer(chunk, 0, n));
            codec.checkException();
        }
    }

    /** Option replies up to and including the ACK or the first error. */
    List<OptionReply> option(OptionRequest request) throws IOException {
        send(request);
        List<OptionReply> replies = new ArrayList<>();
        while (true) {
            OptionReply r = receive();
            replies.add(r);
            if (r instanceof OptionReply.Ack || r instanceof OptionReply.Error) {
                return replies;
            }
        }
    }

    /** Switches the codec to transmission, as a client does after GO's ACK or EXPORT_NAME's reply. */
    void startTransmission() {
        codec.pipeline().addLast(new ClientCodec(c -> readLengths.getOrDefault(c, 0L)));
        codec.pipeline().removeFirst();
    }

    /** Tells the reply decoder how many data bytes a simple reply for {@code cookie} carries (default 0). */
    void expectData(long cookie, long length) {
        readLengths.put(cookie, length);
    }

    /** True when the server closes the connection (EOF or reset) before sending anything more. */
    boolean closedByServer() throws IOException {
        try {
            byte[] chunk = new byte[65536];
            while (true) {
                int n = in.read(chunk);
                if (n < 0) {
                    return true;
                }
                codec.writeInbound(Unpooled.wrappedBuffer(chunk, 0, n));
                if (codec.inboundMessages().size() > 0) {
                    return false;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException reset) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        codec.finishAndReleaseAll();
        socket.close();
    }
}
