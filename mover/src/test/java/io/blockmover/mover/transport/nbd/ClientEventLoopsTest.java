package io.blockmover.mover.transport.nbd;

import static io.blockmover.mover.transport.nbd.ClientTesting.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The shared client event loops stop when a command line run ends (an idle loop in epoll_wait
 * would hold the JVM's exit for 300 ms), and clients made after that get new ones.
 */
class ClientEventLoopsTest {
    @Test
    void stoppingEndsTheLoopThreadsAndALaterClientGetsNewOnes() throws Exception {
        try (Nbdkit kit = nbdkit("pattern", "1M")) {
            NbdUri uri = NbdUri.parse(kit.uri("nbd"));
            String expected = sha256(pattern(1 << 20));
            try (NbdDiskSource s = NbdDiskSource.open(uri, ConnectOptions.DEFAULT)) {
                assertEquals(expected, sha256(readAll(s, 64 << 10, 4)));
            }
            List<Thread> loops = loopThreads();
            assertFalse(loops.isEmpty(), "a client ran on the shared loops");

            NbdClient.stopSharedEventLoops();
            for (Thread t : loops) {
                t.join(10_000);
                assertFalse(t.isAlive(), t.getName() + " still runs after the loops were stopped");
            }
            assertEquals(List.of(), loopThreads());

            try (NbdDiskSource s = NbdDiskSource.open(uri, ConnectOptions.DEFAULT)) {
                assertEquals(expected, sha256(readAll(s, 64 << 10, 4)));
            }
            assertFalse(loopThreads().isEmpty(), "the later client made new loops");
        }
    }

    private static List<Thread> loopThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("nbd-client-") && t.isAlive())
                .toList();
    }
}
