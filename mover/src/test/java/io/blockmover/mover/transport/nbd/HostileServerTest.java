package io.blockmover.mover.transport.nbd;

import static org.junit.jupiter.api.Assertions.*;

import io.blockmover.mover.transport.RetryPolicy;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A scripted server that breaks the protocol in one precise way per test: the client must
 * fail the request with a precise error, never deliver data, and not retry (a broken server
 * would only break again).
 */
class HostileServerTest {
    private static final long NBDMAGIC = 0x4e42444d41474943L;
    private static final long IHAVEOPT = 0x49484156454F5054L;
    private static final long REPLY_MAGIC = 0x3e889045565a9L;
    private static final long SIZE = 1 << 20;

    /** What the server does with the first transmission request (cookie, offset, length). */
    @FunctionalInterface
    interface Misbehaviour {
        void answer(DataOutputStream out, long cookie, long offset, int length) throws IOException;
    }

    /** Serves connections on a daemon thread until closed; counts them. */
    static final class Scripted implements AutoCloseable {
        final ServerSocket socket = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
        final AtomicInteger connections = new AtomicInteger();

        Scripted(Misbehaviour misbehaviour) throws IOException {
            this(misbehaviour, false);
        }

        /** {@code old}: a server from before GO and structured replies (answers them UNSUP). */
        Scripted(Misbehaviour misbehaviour, boolean old) throws IOException {
            Thread t = new Thread(() -> {
                while (!socket.isClosed()) {
                    try (Socket s = socket.accept()) {
                        connections.incrementAndGet();
                        serve(s, misbehaviour, old);
                    } catch (IOException | RuntimeException ignored) {
                        // next connection, or closed
                    }
                }
            }, "hostile-nbd-server");
            t.setDaemon(true);
            t.start();
        }

        String uri() {
            return "nbd://127.0.0.1:" + socket.getLocalPort() + "/";
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private static void serve(Socket s, Misbehaviour misbehaviour, boolean old) throws IOException {
        DataInputStream in = new DataInputStream(s.getInputStream());
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        out.writeLong(NBDMAGIC);
        out.writeLong(IHAVEOPT);
        out.writeShort(3);
        out.flush();
        in.readInt();
        while (true) {
            in.readLong();
            int option = in.readInt();
            byte[] data = new byte[in.readInt()];
            in.readFully(data);
            if (old && option == 1) {
                // EXPORT_NAME: size and flags, no padding (both sides said NO_ZEROES).
                out.writeLong(SIZE);
                out.writeShort(1);
                out.flush();
                transmission(in, out, misbehaviour);
                return;
            }
            if (old) {
                optionReply(out, option, 0x80000001, new byte[0]);
                continue;
            }
            switch (option) {
                case 8 -> optionReply(out, option, 1, new byte[0]);
                case 10 -> {
                    byte[] name = "base:allocation".getBytes(StandardCharsets.US_ASCII);
                    byte[] ctx = java.nio.ByteBuffer.allocate(4 + name.length).putInt(1).put(name).array();
                    optionReply(out, option, 4, ctx);
                    optionReply(out, option, 1, new byte[0]);
                }
                case 7 -> {
                    optionReply(out, option, 3, java.nio.ByteBuffer.allocate(12).putShort((short) 0).putLong(SIZE)
                            .putShort((short) 1).array());
                    optionReply(out, option, 1, new byte[0]);
                    transmission(in, out, misbehaviour);
                    return;
                }
                default -> optionReply(out, option, 0x80000001, new byte[0]);
            }
        }
    }

    private static void optionReply(DataOutputStream out, int option, int type, byte[] data) throws IOException {
        out.writeLong(REPLY_MAGIC);
        out.writeInt(option);
        out.writeInt(type);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    private static void transmission(DataInputStream in, DataOutputStream out, Misbehaviour misbehaviour) throws IOException {
        in.readInt();
        in.readShort();
        in.readShort();
        long cookie = in.readLong();
        long offset = in.readLong();
        int length = in.readInt();
        misbehaviour.answer(out, cookie, offset, length);
        out.flush();
        // Keep the connection open: the client has to notice by itself.
        in.read(new byte[1]);
    }

    private static void chunkHeader(DataOutputStream out, int flags, int type, long cookie, int length) throws IOException {
        out.writeInt(0x668e33ef);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeInt(length);
    }

    private static void assertViolation(Misbehaviour m, String fragment) throws Exception {
        try (Scripted server = new Scripted(m);
             NbdClient client = NbdClient.connect(NbdUri.parse(server.uri()), ConnectOptions.DEFAULT
                     .withRetry(new RetryPolicy(3, Duration.ofMillis(10), Duration.ofMillis(10))))) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> client.read(0, 65536).get(10, TimeUnit.SECONDS));
            assertInstanceOf(NbdProtocolViolationException.class, e.getCause(), () -> e.getCause().toString());
            assertTrue(e.getCause().getMessage().contains(fragment), e.getCause().getMessage());
            ExecutionException again = assertThrows(ExecutionException.class, () -> client.read(0, 4096).get(10, TimeUnit.SECONDS));
            assertInstanceOf(NbdProtocolViolationException.class, again.getCause());
            assertEquals(1, server.connections.get(), "a protocol violation is not retried");
        }
    }

    @Test
    void badReplyMagic() throws Exception {
        assertViolation((out, cookie, offset, length) -> {
            out.writeInt(0x12345678);
            out.write(new byte[32]);
        }, "bad reply magic 0x12345678");
    }

    @Test
    void unknownCookie() throws Exception {
        assertViolation((out, cookie, offset, length) -> {
            out.writeInt(0x67446698);
            out.writeInt(0);
            out.writeLong(cookie + 1000);
        }, "unknown cookie");
    }

    @Test
    void chunkOutsideTheRequest() throws Exception {
        assertViolation((out, cookie, offset, length) -> {
            chunkHeader(out, 1, 1, cookie, 8 + 16);
            out.writeLong(offset + length - 8);
            out.write(new byte[16]);
        }, "outside the request");
    }

    @Test
    void successWithBytesMissing() throws Exception {
        assertViolation((out, cookie, offset, length) -> {
            chunkHeader(out, 0, 1, cookie, 8 + 4096);
            out.writeLong(offset);
            out.write(new byte[4096]);
            chunkHeader(out, 1, 0, cookie, 0);
        }, "no data for [4096, 65536)");
    }

    @Test
    void overlappingChunks() throws Exception {
        assertViolation((out, cookie, offset, length) -> {
            chunkHeader(out, 0, 1, cookie, 8 + length);
            out.writeLong(offset);
            out.write(new byte[length]);
            chunkHeader(out, 1, 2, cookie, 12);
            out.writeLong(offset);
            out.writeInt(4096);
        }, "overlapping chunks");
    }

    @Test
    void serverWithoutGoIsReadThroughExportNameAndSimpleReplies() throws Exception {
        byte[] data = new byte[65536];
        new java.util.Random(1).nextBytes(data);
        try (Scripted server = new Scripted((out, cookie, offset, length) -> {
            out.writeInt(0x67446698);
            out.writeInt(0);
            out.writeLong(cookie);
            out.write(data, 0, length);
        }, true); NbdClient client = NbdClient.connect(NbdUri.parse(server.uri()), ConnectOptions.DEFAULT)) {
            assertFalse(client.info().usedGo());
            assertFalse(client.info().structuredReplies());
            assertEquals(SIZE, client.info().size());
            var b = client.read(0, 65536).get(10, TimeUnit.SECONDS);
            try {
                byte[] got = new byte[65536];
                b.getBytes(b.readerIndex(), got);
                assertArrayEquals(data, got);
            } finally {
                b.release();
            }
        }
    }

    @Test
    void oldstyleServerIsRejectedClearly() throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                try (Socket s = ss.accept()) {
                    DataOutputStream out = new DataOutputStream(s.getOutputStream());
                    out.writeLong(NBDMAGIC);
                    out.writeLong(0x00420281861253L);
                    out.writeLong(SIZE);
                    out.writeInt(1);
                    out.write(new byte[124]);
                    out.flush();
                    s.getInputStream().read();
                } catch (IOException ignored) {
                    // client gone
                }
            });
            t.setDaemon(true);
            t.start();
            NbdHandshakeException e = assertThrows(NbdHandshakeException.class, () -> NbdClient.connect(
                    NbdUri.parse("nbd://127.0.0.1:" + ss.getLocalPort() + "/"), ConnectOptions.DEFAULT));
            assertTrue(e.getMessage().contains("oldstyle"), e.getMessage());
        }
    }
}
