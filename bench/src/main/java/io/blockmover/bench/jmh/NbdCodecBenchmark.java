package io.blockmover.bench.jmh;

import io.blockmover.nbd.protocol.ClientCodec;
import io.blockmover.nbd.protocol.NbdReply;
import io.blockmover.nbd.protocol.NbdRequest;
import io.blockmover.nbd.protocol.ServerCodec;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The NBD codecs on their hot paths, through a real (embedded) Netty pipeline: the client
 * encoding READ requests and decoding READ replies (simple and structured, data as slices), the
 * server decoding requests and encoding READ replies (header plus the retained data buffer).
 * Reported per message; {@code readSize} is the payload of each READ.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
public class NbdCodecBenchmark {
    private static final int BATCH = 64;

    @Param({"262144"})
    public int readSize;

    private EmbeddedChannel client;
    private EmbeddedChannel server;
    private ByteBuf data;
    private ByteBuf requestWire;
    private ByteBuf simpleReplyWire;
    private ByteBuf structuredReplyWire;

    @Setup
    public void setUp() {
        client = new EmbeddedChannel(new ClientCodec(cookie -> readSize));
        client.config().setAllocator(PooledByteBufAllocator.DEFAULT);
        server = new EmbeddedChannel(new ServerCodec());
        server.config().setAllocator(PooledByteBufAllocator.DEFAULT);
        data = PooledByteBufAllocator.DEFAULT.directBuffer(readSize);
        byte[] bytes = new byte[readSize];
        ThreadLocalRandom.current().nextBytes(bytes);
        data.writeBytes(bytes);

        requestWire = wire(client, i -> NbdRequest.read(i, (long) i * readSize, readSize, 0));
        simpleReplyWire = wire(server, i -> new NbdReply.Simple(i, 0, data.retainedDuplicate()));
        structuredReplyWire = wire(server, i -> new NbdReply.OffsetData(i, true, (long) i * readSize, data.retainedDuplicate()));
    }

    /** BATCH messages encoded by {@code channel}, concatenated into one direct buffer. */
    private static ByteBuf wire(EmbeddedChannel channel, java.util.function.IntFunction<Object> message) {
        ByteBuf all = PooledByteBufAllocator.DEFAULT.directBuffer();
        for (int i = 0; i < BATCH; i++) {
            channel.writeOutbound(message.apply(i));
            ByteBuf b;
            while ((b = channel.readOutbound()) != null) {
                all.writeBytes(b);
                b.release();
            }
        }
        return all;
    }

    @TearDown
    public void tearDown() {
        client.finishAndReleaseAll();
        server.finishAndReleaseAll();
        data.release();
        requestWire.release();
        simpleReplyWire.release();
        structuredReplyWire.release();
    }

    private static void drainOutbound(EmbeddedChannel channel, Blackhole bh) {
        Object o;
        while ((o = channel.readOutbound()) != null) {
            bh.consume(o);
            ReferenceCountUtil.release(o);
        }
    }

    private static void drainInbound(EmbeddedChannel channel, Blackhole bh) {
        Object o;
        while ((o = channel.readInbound()) != null) {
            bh.consume(o);
            ReferenceCountUtil.release(o);
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void clientEncodesReadRequests(Blackhole bh) {
        for (int i = 0; i < BATCH; i++) {
            client.writeOutbound(NbdRequest.read(i, (long) i * readSize, readSize, 0));
        }
        drainOutbound(client, bh);
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void serverDecodesReadRequests(Blackhole bh) {
        server.writeInbound(requestWire.retainedDuplicate());
        drainInbound(server, bh);
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void serverEncodesStructuredReadReplies(Blackhole bh) {
        for (int i = 0; i < BATCH; i++) {
            server.writeOutbound(new NbdReply.OffsetData(i, true, (long) i * readSize, data.retainedDuplicate()));
        }
        drainOutbound(server, bh);
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void clientDecodesStructuredReadReplies(Blackhole bh) {
        client.writeInbound(structuredReplyWire.retainedDuplicate());
        drainInbound(client, bh);
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void clientDecodesSimpleReadReplies(Blackhole bh) {
        client.writeInbound(simpleReplyWire.retainedDuplicate());
        drainInbound(client, bh);
    }
}
