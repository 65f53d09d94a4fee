package io.blockmover.nbd.server;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;

import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;

/**
 * The fastest socket transport this machine offers: epoll on Linux, NIO elsewhere; TCP or a Unix
 * socket, as the bind address says.
 */
record IoTransport(String name, IoHandlerFactory ioHandlerFactory, Class<? extends ServerChannel> serverChannel,
                   SocketAddress bind) {

    static IoTransport best(SocketAddress bind) {
        boolean unix = bind instanceof UnixDomainSocketAddress;
        if (Epoll.isAvailable()) {
            return unix
                    ? new IoTransport("epoll", EpollIoHandler.newFactory(), EpollServerDomainSocketChannel.class,
                            new DomainSocketAddress(((UnixDomainSocketAddress) bind).getPath().toString()))
                    : new IoTransport("epoll", EpollIoHandler.newFactory(), EpollServerSocketChannel.class, bind);
        }
        return new IoTransport("nio", NioIoHandler.newFactory(),
                unix ? NioServerDomainSocketChannel.class : NioServerSocketChannel.class, bind);
    }

    boolean isUnix() {
        return !(bind instanceof java.net.InetSocketAddress);
    }

    EventLoopGroup newGroup(int threads) {
        return new MultiThreadIoEventLoopGroup(threads, ioHandlerFactory);
    }
}
