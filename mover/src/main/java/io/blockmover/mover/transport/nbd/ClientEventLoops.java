package io.blockmover.mover.transport.nbd;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The event loops that every NBD client of this process shares, one per core, as Netty intends.
 * A client used to start its own threads and wait for them to stop when it closed: a warm proxy
 * paid that on every job (connect and close took 10–40 ms of a 1% incremental's 120). Connections
 * are spread over the loops as they are opened; nothing on a loop blocks, so sharing is safe.
 */
final class ClientEventLoops {
    /** Native epoll where it loads (it does on Linux x86-64); the JDK's NIO otherwise. */
    static final boolean EPOLL = Epoll.isAvailable();

    private ClientEventLoops() {}

    /** The loops; made on first use, so that commands that never open an NBD connection start no threads. */
    private static EventLoopGroup group;

    static synchronized EventLoopGroup shared() {
        if (group == null) {
            group = create();
        }
        return group;
    }

    /**
     * Stops the loops, if any were made, and waits up to {@code timeoutMillis} for their threads to
     * end. Clients open at that point lose their connections; clients made afterwards get new loops.
     */
    static void stop(long timeoutMillis) throws InterruptedException {
        EventLoopGroup stopping;
        synchronized (ClientEventLoops.class) {
            stopping = group;
            group = null;
        }
        if (stopping != null) {
            stopping.shutdownGracefully(0, timeoutMillis, TimeUnit.MILLISECONDS).await(timeoutMillis);
        }
    }

    private static EventLoopGroup create() {
        IoHandlerFactory f = EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        AtomicInteger n = new AtomicInteger();
        return new MultiThreadIoEventLoopGroup(Math.max(1, Runtime.getRuntime().availableProcessors()), r -> {
            // Daemons: an idle client loop must never keep a finished command alive.
            Thread t = new Thread(r, "nbd-client-" + n.getAndIncrement());
            t.setDaemon(true);
            return t;
        }, f);
    }
}
