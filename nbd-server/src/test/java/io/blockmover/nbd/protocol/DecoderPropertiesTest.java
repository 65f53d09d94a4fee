package io.blockmover.nbd.protocol;

import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random and mutated bytes, cut into random pieces, into every NBD decoder, as a hostile peer
 * would send them: nothing but {@link NbdProtocolException} is ever thrown, no decoder allocates
 * beyond what its frame limit allows (whatever a length field claims), and none hangs.
 */
class DecoderPropertiesTest {
    private static final int MAX_OPTION = 4096;
    private static final int MAX_PAYLOAD = 64 << 10;
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** Valid frames of each side, the seeds that mutations start from. */
    private static final List<byte[]> FRAMES = List.of(
            Wire.bytes("4e42444d41474943 49484156454f5054 0003"), // server greeting
            Wire.bytes("00000003 49484156454F5054 00000001 00000004 \"vm01\""), // client flags + EXPORT_NAME
            Wire.bytes("49484156454F5054 00000006 00000009 00000004 \"vm01\" 0000"), // OPT_GO
            Wire.bytes("0003e889045565a9 00000001 00000003 00000000"), // option reply ACK
            Wire.bytes("25609513 0000 0000 0000000000000001 0000000000000000 00000200"), // READ request
            Wire.bytes("25609513 0000 0001 0000000000000002 0000000000001000 00000004 01020304"), // WRITE request
            Wire.bytes("67446698 00000000 0000000000000001"), // simple reply
            Wire.bytes("668e33ef 0001 0001 0000000000000001 0000000c 0000000000000000 61626364"), // structured OFFSET_DATA
            Wire.bytes("668e33ef 0001 0005 0000000000000001 00000010 00000001 00001000 00000000 00001000") // BLOCK_STATUS
    );

    private record Feed(byte[] bytes, List<Integer> cuts) {}

    @Provide
    Arbitrary<Feed> hostileInput() {
        Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofMaxSize(2048);
        Arbitrary<byte[]> mutated = Combinators.combine(Arbitraries.of(FRAMES), Arbitraries.integers().between(0, 1 << 20).list()
                .ofMaxSize(6), Arbitraries.bytes().array(byte[].class).ofMaxSize(64)).as((frame, flips, tail) -> {
                    byte[] b = new byte[frame.length + tail.length];
                    System.arraycopy(frame, 0, b, 0, frame.length);
                    System.arraycopy(tail, 0, b, frame.length, tail.length);
                    for (int f : flips) {
                        b[f % b.length] ^= (byte) (1 + (f >>> 11) % 255);
                    }
                    return b;
                });
        Arbitrary<byte[]> repeated = Arbitraries.of(FRAMES).list().ofMinSize(1).ofMaxSize(20)
                .map(l -> l.stream().reduce(new byte[0], (a, x) -> {
                    byte[] b = java.util.Arrays.copyOf(a, a.length + x.length);
                    System.arraycopy(x, 0, b, a.length, x.length);
                    return b;
                }));
        return Combinators.combine(Arbitraries.oneOf(random, mutated, repeated), Arbitraries.integers().between(1, 64).list().ofMaxSize(8))
                .as(Feed::new);
    }

    @Property
    void serverHandshake(@ForAll("hostileInput") Feed feed) {
        check(() -> new ServerHandshakeCodec(MAX_OPTION), MAX_OPTION, feed);
    }

    @Property
    void requests(@ForAll("hostileInput") Feed feed) {
        check(() -> new ServerCodec(MAX_PAYLOAD), MAX_PAYLOAD, feed);
    }

    @Property
    void clientHandshake(@ForAll("hostileInput") Feed feed) {
        check(() -> new ClientHandshakeCodec(MAX_OPTION), MAX_OPTION, feed);
    }

    @Property
    void replies(@ForAll("hostileInput") Feed feed) {
        // Cookie 1 is a READ of 4 bytes in flight, cookie 2 a write; the rest are unknown.
        check(() -> new ClientCodec(c -> c == 1 ? 4 : c == 2 ? 0 : ReplyLengths.UNKNOWN, MAX_PAYLOAD), MAX_PAYLOAD, feed);
    }

    private static void check(Supplier<ChannelHandler> decoder, int maxFrame, Feed feed) {
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            EmbeddedChannel channel = new EmbeddedChannel(decoder.get());
            // Unpooled: a pool's first use reserves a 4 MiB chunk, whatever the decoder asked for.
            channel.config().setAllocator(UnpooledByteBufAllocator.DEFAULT);
            long before = THREADS.getCurrentThreadAllocatedBytes();
            int at = 0;
            int piece = 0;
            while (at < feed.bytes().length) {
                int n = Math.min(feed.bytes().length - at, feed.cuts().isEmpty() ? feed.bytes().length
                        : feed.cuts().get(piece++ % feed.cuts().size()));
                try {
                    channel.writeInbound(Unpooled.wrappedBuffer(feed.bytes(), at, n));
                } catch (Throwable t) {
                    assertInstanceOf(NbdProtocolException.class, t, "only the decoder's own error: " + t);
                }
                at += n;
                for (Object m; (m = channel.readInbound()) != null; ) {
                    ReferenceCountUtil.release(m);
                }
            }
            long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
            // A decoder that trusted a length field would allocate up to 4 GiB here.
            long bound = 4L * maxFrame + 512L * feed.bytes().length + (2 << 20);
            assertTrue(allocated <= bound, "allocated " + allocated + " bytes for " + feed.bytes().length + " of input");
            channel.finishAndReleaseAll();
        });
    }
}
