package io.blockmover.nbd.server;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;

/** The fastest socket transport this machine offers: epoll on Linux, NIO elsewhere. */
record IoTransport(String name, IoHandlerFactory ioHandlerFactory, Class<? extends ServerChannel> serverChannel) {

    static IoTransport best() {
        if (Epoll.isAvailable()) {
            return new IoTransport("epoll", EpollIoHandler.newFactory(), EpollServerSocketChannel.class);
        }
        return new IoTransport("nio", NioIoHandler.newFactory(), NioServerSocketChannel.class);
    }

    EventLoopGroup newGroup(int threads) {
        return new MultiThreadIoEventLoopGroup(threads, ioHandlerFactory);
    }
}
