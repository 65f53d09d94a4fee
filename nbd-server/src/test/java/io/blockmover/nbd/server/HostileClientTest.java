package io.blockmover.nbd.server;

import io.blockmover.nbd.testing.MemoryBlockDevice;
import io.blockmover.nbd.testing.StaticCatalog;

import java.io.IOException;
import java.net.InetSocketAddress;

/** The hostile cases against a memory device, the emulated host's simplest export. */
class HostileClientTest extends HostileClientCases {
    private NbdServer server;

    @Override
    protected InetSocketAddress serve() throws IOException {
        server = NbdServer.start(NbdServerConfig.plain(new InetSocketAddress("127.0.0.1", 0)).withHandshakeTimeout(HANDSHAKE_TIMEOUT),
                StaticCatalog.of(new ExportCatalog.Export("disk", "", new MemoryBlockDevice(1 << 20))));
        return server.localAddress();
    }

    @Override
    protected String exportName() {
        return "disk";
    }

    @Override
    protected void stopServing() {
        server.close();
    }
}
