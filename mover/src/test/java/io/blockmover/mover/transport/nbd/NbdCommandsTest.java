package io.blockmover.mover.transport.nbd;

import static io.blockmover.mover.transport.nbd.ClientTesting.*;
import static org.junit.jupiter.api.Assertions.*;

import io.blockmover.mover.cli.Main;
import io.blockmover.nbd.testing.Peers;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code blockmover nbd-info} and {@code nbd-copy} end to end against nbdkit. */
class NbdCommandsTest {
    @TempDir
    Path tmp;

    record Run(int exit, String out, String err) {}

    private static synchronized Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int exit = Main.execute(args);
            return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void copyIsExactAndSparseAndInfoMatchesNbdinfo() throws Exception {
        try (Nbdkit k = nbdkit("sparse-random", "32M", "seed=99", "percent=20")) {
            Path ours = tmp.resolve("ours.raw");
            Run copy = run("nbd-copy", "--requests", "8", "--request-size", "256K", k.uri("nbd"), ours.toString());
            assertEquals(0, copy.exit(), copy.err());
            assertTrue(copy.err().matches("(?s).*copied 33554432 bytes \\(\\d+ read.* MB/s\\s*"), copy.err());
            byte[] theirs = readWithNbdcopy(k.uri("nbd"), tmp.resolve("theirs.raw"));
            assertEquals(sha256(theirs), sha256(Files.readAllBytes(ours)));
            long blocks = Long.parseLong(Peers.run(Duration.ofSeconds(10), "stat", "-c", "%b", ours.toString())
                    .requireSuccess().stdout().trim());
            assertTrue(blocks * 512 < (32 << 20) / 2, "holes were not written: " + blocks * 512 + " bytes allocated");

            Run defaults = run("nbd-copy", k.uri("nbd"), "null:");
            assertEquals(0, defaults.exit(), defaults.err());
            assertTrue(defaults.err().contains(NbdTuning.DEFAULT_REQUESTS_IN_FLIGHT + " x " + NbdTuning.DEFAULT_REQUEST_SIZE
                    + " bytes in flight"), "the defaults are NbdTuning's: " + defaults.err());

            Run info = run("nbd-info", k.uri("nbd"));
            assertEquals(0, info.exit(), info.err());
            assertTrue(info.out().contains("size: 33554432"), info.out());
            assertTrue(info.out().contains("context: base:allocation"), info.out());

            Run map = run("nbd-info", "--map", k.uri("nbd"));
            assertEquals(0, map.exit(), map.err());
            String nbdinfo = Peers.run(Duration.ofSeconds(20), "nbdinfo", "--map", k.uri("nbd")).requireSuccess().stdout();
            assertEquals(normalise(nbdinfo), normalise(map.out()));
        }
    }

    /** offset, length and type columns only (descriptions differ in wording). */
    private static String normalise(String map) {
        StringBuilder sb = new StringBuilder();
        map.lines().map(String::trim).filter(l -> !l.isEmpty()).forEach(l -> {
            String[] f = l.split("\\s+");
            sb.append(f[0]).append(' ').append(f[1]).append(' ').append(f[2]).append('\n');
        });
        return sb.toString();
    }

    @Test
    void errorsAreOneLine() {
        int port = io.blockmover.nbd.testing.FreePorts.find();
        Run bad = run("nbd-copy", "nbd://127.0.0.1:" + port + "/x", "null:");
        assertEquals(1, bad.exit());
        assertEquals("blockmover: cannot connect to 127.0.0.1:" + port + ": Connection refused", bad.err().strip());
        Run uri = run("nbd-info", "http://x/");
        assertEquals(1, uri.exit());
        assertTrue(uri.err().strip().startsWith("blockmover: unsupported NBD URI scheme 'http'"), uri.err());
        assertEquals(1, uri.err().strip().lines().count());
    }
}
