package io.blockmover.nbd.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;

/**
 * A currently free TCP port on 127.0.0.1, for peers that must be told a port (qemu-nbd,
 * nbdkit). Our own servers bind port 0 instead.
 */
public final class FreePorts {
    private FreePorts() {}

    public static int find() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
