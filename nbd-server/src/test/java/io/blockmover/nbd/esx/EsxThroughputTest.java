package io.blockmover.nbd.esx;

import io.blockmover.nbd.testing.FreePorts;
import io.blockmover.nbd.testing.Peers;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reads a 1 GiB all-random export with {@code nbdcopy ... null:} and, in the same run, nbdkit's
 * {@code pattern 1G} (the cheapest data a server can make) and {@code random 1G} (generated
 * random data, like ours), and prints the rates. Measured, not asserted (the bench module owns speed);
 * what is asserted is that both copies complete.
 */
class EsxThroughputTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(120);

    private static double copyMBps(String uri) {
        long t = System.nanoTime();
        Peers.run(TIMEOUT, "nbdcopy", uri, "null:").requireSuccess();
        return (1L << 30) / ((System.nanoTime() - t) / 1e9) / 1e6;
    }

    @Test
    void randomExportVersusNbdkitPattern() throws Exception {
        int port = FreePorts.find();
        int randomPort = FreePorts.find();
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(
                     new HostSpec(1, 1, 1, 1L << 30, Profile.RANDOM, false)));
             Peers.Peer pattern = Peers.start(List.of("nbdkit", "-f", "-p", String.valueOf(port), "-i", "127.0.0.1",
                     "pattern", "1G"), port, Duration.ofSeconds(30));
             Peers.Peer random = Peers.start(List.of("nbdkit", "-f", "-p", String.valueOf(randomPort), "-i",
                     "127.0.0.1", "random", "1G"), randomPort, Duration.ofSeconds(30))) {
            String ours = "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/vm01/disk-2000";
            String theirs = "nbd://127.0.0.1:" + port + "/";
            copyMBps(ours);   // warm up the JIT
            double best = 0;
            double peer = 0;
            for (int i = 0; i < 2; i++) {
                best = Math.max(best, copyMBps(ours));
                peer = Math.max(peer, copyMBps(theirs));
            }
            double randomPeer = copyMBps("nbd://127.0.0.1:" + randomPort + "/");
            System.out.printf("nbdcopy to null: of 1 GiB: esx random export %.0f MB/s, nbdkit pattern %.0f MB/s (%.2fx),"
                    + " nbdkit random %.0f MB/s%n", best, peer, best / peer, randomPeer);
            assertTrue(best > 0 && peer > 0 && randomPeer > 0);
        }
    }
}
