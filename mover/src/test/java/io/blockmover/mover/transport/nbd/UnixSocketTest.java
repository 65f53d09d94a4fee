package io.blockmover.mover.transport.nbd;

import static io.blockmover.mover.transport.nbd.ClientTesting.*;
import static org.junit.jupiter.api.Assertions.*;

import io.blockmover.nbd.testing.Peers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code nbd+unix://} against nbdkit listening on a Unix domain socket. */
class UnixSocketTest {
    @TempDir
    Path tmp;

    @Test
    void readsOverAUnixSocket() throws Exception {
        Path socket = tmp.resolve("nbd.sock");
        Process kit = new ProcessBuilder(Peers.require("nbdkit").toString(), "-f", "-U", socket.toString(), "pattern", "4M")
                .redirectErrorStream(true).redirectOutput(tmp.resolve("nbdkit.log").toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!Files.exists(socket)) {
                assertTrue(kit.isAlive(), () -> "nbdkit exited: " + read(tmp.resolve("nbdkit.log")));
                assertTrue(System.nanoTime() < deadline, "nbdkit did not create " + socket);
                Thread.sleep(20);
            }
            try (NbdDiskSource s = NbdDiskSource.open(NbdUri.parse("nbd+unix:///?socket=" + socket), ConnectOptions.DEFAULT)) {
                assertEquals(sha256(pattern(4 << 20)), sha256(readAll(s, 256 << 10, 8)));
            }
        } finally {
            kit.destroy();
            if (!kit.waitFor(5, TimeUnit.SECONDS)) {
                kit.destroyForcibly();
            }
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }
}
