package io.blockmover.mover.transport.nbd;

import static io.blockmover.mover.transport.nbd.ClientTesting.*;
import static org.junit.jupiter.api.Assertions.*;

import io.blockmover.mover.transport.DiskExtent;
import io.blockmover.nbd.testing.FreePorts;
import io.blockmover.nbd.testing.Peers;
import io.netty.buffer.Unpooled;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Our client against nbd-server 3.24: simple replies only, no block status, and a size of 0
 * on NBD_OPT_INFO (we use GO and trust its size).
 */
class NbdServerInteropTest {
    @TempDir
    Path tmp;

    @Test
    void readsAndWritesWithSimpleReplies() throws Exception {
        Path file = tmp.resolve("disk.raw");
        byte[] content = new byte[8 << 20];
        new Random(5).nextBytes(content);
        Files.write(file, content);
        int port = FreePorts.find();
        Path conf = tmp.resolve("nbd-server.conf");
        Files.writeString(conf, """
                [generic]
                    port = %d
                    listenaddr = 127.0.0.1
                    allowlist = false
                [disk]
                    exportname = %s
                    readonly = false
                """.formatted(port, file));
        // nbd-server's foreground mode (-d) serves a single client, so let it daemonize (one
        // process per client) and stop it through its pid file.
        Path pidFile = tmp.resolve("nbd-server.pid");
        Peers.run(Duration.ofSeconds(20), "nbd-server", "-C", conf.toString(), "-p", pidFile.toString()).requireSuccess();
        try {
            awaitPort(port);
            String uri = "nbd://127.0.0.1:" + port + "/disk";
            try (NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(uri), ConnectOptions.DEFAULT)) {
                ExportInfo info = s.client().info();
                assertEquals(8 << 20, info.size(), "size from GO");
                assertFalse(info.structuredReplies());
                assertTrue(info.metaContexts().isEmpty());
                assertEquals(sha256(content), sha256(readAll(s, 1 << 20, 16)));
                assertEquals(List.of(new DiskExtent(0, 8 << 20, DiskExtent.Kind.DATA)),
                        s.extents(0, s.capacity()).get(10, TimeUnit.SECONDS));
            }
            byte[] data = new byte[1 << 20];
            new Random(6).nextBytes(data);
            try (NbdDiskTarget t = NbdDiskTarget.open(NbdUri.parse(uri), ConnectOptions.DEFAULT)) {
                t.write(3 << 20, Unpooled.wrappedBuffer(data), true).get(10, TimeUnit.SECONDS);
                // nbd-server 3.24 has no FAST_ZERO: asking for a fast zero fails at once, typed.
                assertFalse(t.capabilities().fastZero());
                var fast = assertThrows(java.util.concurrent.ExecutionException.class, () -> t.writeZeroes(0, 4096,
                        new io.blockmover.mover.transport.ZeroOptions(false, true, false)).get(10, TimeUnit.SECONDS));
                assertEquals(95, assertInstanceOf(io.blockmover.mover.transport.DiskIoException.class, fast.getCause()).errno());
                t.flush().get(10, TimeUnit.SECONDS);
            }
            System.arraycopy(data, 0, content, 3 << 20, data.length);
            try (NbdDiskSource s = NbdDiskSource.open(NbdUri.parse(uri), ConnectOptions.DEFAULT)) {
                assertEquals(sha256(content), sha256(readAll(s, 512 << 10, 8)));
            }
        } finally {
            stop(pidFile);
        }
    }

    private static void awaitPort(int port) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
                return;
            } catch (java.io.IOException notYet) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("nbd-server is not listening on port " + port);
                }
                Thread.sleep(20);
            }
        }
    }

    /** Kills the daemon and the per-client children it forked. */
    private static void stop(Path pidFile) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (!Files.exists(pidFile) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        if (!Files.exists(pidFile)) {
            throw new AssertionError("nbd-server wrote no pid file " + pidFile);
        }
        long pid = Long.parseLong(Files.readString(pidFile).trim());
        ProcessHandle.of(pid).ifPresent(h -> {
            h.descendants().forEach(ProcessHandle::destroyForcibly);
            h.destroyForcibly();
        });
    }
}
