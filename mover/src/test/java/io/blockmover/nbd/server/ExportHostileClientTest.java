package io.blockmover.nbd.server;

import io.blockmover.index.repo.Repository;
import io.blockmover.mover.cli.Main;
import io.blockmover.mover.export.BackupExport;
import io.blockmover.mover.export.ExportOptions;
import io.blockmover.nbd.testing.FreePorts;
import io.blockmover.nbd.testing.Peers;
import io.blockmover.nbd.protocol.NbdReply;
import io.blockmover.nbd.protocol.NbdRequest;
import io.blockmover.nbd.protocol.OptionRequest;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static io.blockmover.nbd.protocol.NbdConstants.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The emulated host's hostile-client cases against an instant-restore export of a backup: the
 * same server code must hold up whatever device it serves.
 */
class ExportHostileClientTest extends HostileClientCases {
    @TempDir
    static Path dir;

    private Repository repo;
    private BackupExport export;

    @Override
    protected InetSocketAddress serve() throws IOException {
        Path image = dir.resolve("disk.raw");
        byte[] data = new byte[4 << 20];
        new java.util.Random(3).nextBytes(data);
        Files.write(image, data);
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(8 << 20); // a hole at the end
        }
        Path repoDir = dir.resolve("repo");
        int port = FreePorts.find();
        if (Main.execute("init", "--repo", repoDir.toString()) != 0) {
            throw new AssertionError("init failed");
        }
        try (Peers.Peer qemu = Peers.start(List.of("qemu-nbd", "-r", "-f", "raw", "-b", "127.0.0.1", "-p", String.valueOf(port),
                "-x", "disk", "--persistent", image.toString()), port, Duration.ofSeconds(60))) {
            if (Main.execute("backup", "--repo", repoDir.toString(), "--source", "nbd://127.0.0.1:" + port + "/disk",
                    "--name", "vm/disk-0", "--no-progress") != 0) {
                throw new AssertionError("backup failed");
            }
        }
        repo = Repository.open(repoDir, null);
        export = BackupExport.start(repo, new ExportOptions(1, Optional.empty(), new InetSocketAddress("127.0.0.1", 0), false,
                Optional.empty(), Optional.empty(), 1 << 20), c -> c.withHandshakeTimeout(HANDSHAKE_TIMEOUT));
        return address();
    }

    /** A client that ignores the READ_ONLY flag gets EPERM for each write and keeps its connection. */
    @Test
    void writesToTheReadOnlyExportAreEperm() throws IOException {
        try (WireClient c = WireClient.negotiate(address())) {
            c.option(new OptionRequest.Info(true, "disk-0", List.of()));
            c.startTransmission();
            c.send(NbdRequest.write(1, 0, Unpooled.wrappedBuffer(new byte[4096]), 0));
            assertEquals(NbdReply.Simple.error(1, EPERM), c.receive());
            c.send(NbdRequest.command(CMD_WRITE_ZEROES, 2, 0, 4096, 0));
            assertEquals(NbdReply.Simple.error(2, EPERM), c.receive());
            c.send(NbdRequest.command(CMD_TRIM, 3, 0, 4096, 0));
            assertEquals(NbdReply.Simple.error(3, EPERM), c.receive());
            c.send(NbdRequest.command(CMD_FLUSH, 4, 0, 0, 0));
            assertEquals(NbdReply.Simple.ok(4), c.receive());
        }
    }

    private InetSocketAddress address() {
        String endpoint = export.endpoint();
        return new InetSocketAddress("127.0.0.1", Integer.parseInt(endpoint.substring(endpoint.lastIndexOf(':') + 1)));
    }

    @Override
    protected String exportName() {
        return "disk-0";
    }

    @Override
    protected void stopServing() throws IOException {
        export.close();
        repo.close();
    }
}
