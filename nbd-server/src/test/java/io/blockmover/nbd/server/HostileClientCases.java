package io.blockmover.nbd.server;

import io.blockmover.nbd.protocol.NbdReply;
import io.blockmover.nbd.protocol.NbdRequest;
import io.blockmover.nbd.protocol.OptionReply;
import io.blockmover.nbd.protocol.OptionRequest;
import io.blockmover.nbd.testing.Peers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import static io.blockmover.nbd.protocol.NbdConstants.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Garbage and hostile lengths over a real socket: the server hangs up cleanly (or answers with
 * the protocol's error), never buffers without bound, and keeps serving everyone else, including
 * a connection that was open all along. The same cases run against every kind of export
 * (the emulated host's devices, a backup served for instant restore): each subclass serves one.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class HostileClientCases {
    /** Handshakes slower than this are cut off: the servers under test must be configured with it. */
    protected static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(2);

    private InetSocketAddress address;
    private String disk;
    private WireClient bystander;

    /** Starts the server under test (TCP on loopback, {@link #HANDSHAKE_TIMEOUT}) and returns its address. */
    protected abstract InetSocketAddress serve() throws IOException;

    /** The export every case talks to. */
    protected abstract String exportName();

    /** Stops what {@link #serve()} started. */
    protected abstract void stopServing() throws IOException;

    @BeforeAll
    void start() throws IOException {
        address = serve();
        disk = exportName();
        bystander = WireClient.negotiate(address);
        bystander.option(new OptionRequest.Info(true, disk, List.of()));
        bystander.startTransmission();
    }

    @AfterAll
    void stop() throws IOException {
        bystander.close();
        stopServing();
    }

    private void assertStillServing() throws IOException {
        bystander.send(NbdRequest.command(CMD_FLUSH, 77, 0, 0, 0));
        assertEquals(NbdReply.Simple.ok(77), bystander.receive());
        Peers.run(Duration.ofSeconds(30), "nbdinfo", "nbd://127.0.0.1:" + address.getPort() + "/" + disk).requireSuccess();
    }

    @Test
    void httpRequestInsteadOfNbd() throws IOException {
        try (WireClient c = WireClient.connect(address)) {
            c.receive(); // greeting
            c.sendRaw("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertTrue(c.closedByServer());
        }
        assertStillServing();
    }

    @Test
    void badOptionMagic() throws IOException {
        try (WireClient c = WireClient.negotiate(address)) {
            c.sendRaw(ByteBuffer.allocate(16).putLong(0x1122334455667788L).putInt(OPT_GO).putInt(0).array());
            assertTrue(c.closedByServer());
        }
        assertStillServing();
    }

    @Test
    void hugeOptionLengthIsSkippedAndAnsweredTooBig() throws IOException {
        try (WireClient c = WireClient.negotiate(address)) {
            c.sendRaw(ByteBuffer.allocate(16).putLong(IHAVEOPT).putInt(OPT_INFO).putInt(4 << 20).array());
            byte[] junk = new byte[64 * 1024];
            for (int i = 0; i < 64; i++) {
                c.sendRaw(junk);
            }
            OptionReply.Error e = c.receive();
            assertEquals(REP_ERR_TOO_BIG, e.type());
            assertInstanceOf(OptionReply.Ack.class, c.option(new OptionRequest.Info(true, disk, List.of())).getLast());
        }
        assertStillServing();
    }

    @Test
    void exportNameOfUnknownExportHangsUp() throws IOException {
        try (WireClient c = WireClient.negotiate(address)) {
            c.send(new OptionRequest.ExportName("no-such-disk"));
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void unknownClientFlags() throws IOException {
        try (WireClient c = WireClient.connect(address)) {
            c.receive();
            c.sendRaw(new byte[] {0, 0, 1, 3});
            assertTrue(c.closedByServer());
        }
    }

    @Test
    void badRequestMagicInTransmission() throws IOException {
        try (WireClient c = WireClient.negotiate(address)) {
            c.option(new OptionRequest.Info(true, disk, List.of()));
            c.sendRaw(ByteBuffer.allocate(28).putInt(0xdeadbeef).array());
            assertTrue(c.closedByServer());
        }
        assertStillServing();
    }

    @Test
    void writeLongerThanTheMaximumPayloadHangsUpWithoutBuffering() throws IOException {
        try (WireClient c = WireClient.negotiate(address)) {
            c.option(new OptionRequest.Info(true, disk, List.of()));
            c.sendRaw(ByteBuffer.allocate(28).putInt(REQUEST_MAGIC).putShort((short) 0).putShort((short) CMD_WRITE)
                    .putLong(1).putLong(0).putInt(-1).array());
            assertTrue(c.closedByServer());
        }
        assertStillServing();
    }

    @Test
    void silentClientIsDisconnectedAfterTheHandshakeTimeout() throws IOException {
        try (WireClient c = WireClient.connect(address)) {
            c.receive();
            assertTrue(c.closedByServer(), "the handshake timeout closes an idle negotiation");
        }
    }
}
