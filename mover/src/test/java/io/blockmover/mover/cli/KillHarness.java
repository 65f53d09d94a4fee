package io.blockmover.mover.cli;

import io.blockmover.index.manifest.BackupRecord;
import io.blockmover.index.repo.Repository;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the kill tests share: the real CLI started in a JVM of its own, SIGKILLed after a chosen
 * time, and the look at what survived. {@code BM_KILL_POINTS} sets how many kills a run makes
 * (default 20, {@code make torture} 200), {@code BM_KILL_SEED} repeats a run.
 */
final class KillHarness {
    private static final Pattern PROXY = Pattern.compile("blockmover proxy: grpc 127\\.0\\.0\\.1:(\\d+)");
    private final Path dir;

    /** @param dir where the processes' output goes (the test's own directory) */
    KillHarness(Path dir) {
        this.dir = dir;
    }

    static int points() {
        return Integer.parseInt(System.getenv().getOrDefault("BM_KILL_POINTS", "20"));
    }

    static long seed() {
        return Long.parseLong(System.getenv().getOrDefault("BM_KILL_SEED", Long.toString(System.nanoTime())));
    }

    /** {@code blockmover ARGS} in a JVM of its own, on the test's class path. */
    static List<String> command(List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args);
        return cmd;
    }

    /** Runs the command to its end (it must succeed); returns how long it took in ms. */
    long timed(List<String> args) throws Exception {
        long start = System.nanoTime();
        Process p = new ProcessBuilder(command(args)).redirectErrorStream(true).redirectOutput(dir.resolve("uncut.log").toFile()).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), Files.readString(dir.resolve("uncut.log")));
        return (System.nanoTime() - start) / 1_000_000;
    }

    /** Starts the command and SIGKILLs it {@code at} ms after the start; false when it had ended by then. */
    boolean killAt(List<String> args, long at) throws Exception {
        Process p = new ProcessBuilder(command(args)).redirectErrorStream(true).redirectOutput(dir.resolve("killed.log").toFile()).start();
        boolean running = !p.waitFor(at, TimeUnit.MILLISECONDS);
        if (running) {
            p.destroyForcibly(); // SIGKILL
        }
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return running;
    }

    /**
     * Where kills may land, in ms after the start: the whole uncut run at first, then narrowed to
     * the work itself as kills land too early (before the process did anything: JVM start-up) or
     * too late (after it finished), so most of a short run's points fall inside the pipeline.
     */
    static final class Window {
        private long from;
        private long to;

        Window(long uncutMillis) {
            this(0, uncutMillis);
        }

        /** A window known to begin later: {@code from} is about when the process starts its work. */
        Window(long from, long to) {
            this.from = Math.min(from, to - 100);
            this.to = to;
        }

        long next(Random random) {
            return from + (long) (random.nextDouble() * Math.max(1, to - from));
        }

        /** A point in the last fifth of the window: where the commit is, once the window has narrowed. */
        long nearEnd(Random random) {
            long span = Math.max(1, to - from);
            return to - (long) (random.nextDouble() * span / 5);
        }

        void landed(long at, boolean tooEarly, boolean tooLate) {
            if (tooEarly) {
                from = Math.max(from, Math.min(at, to - 100));
            } else if (tooLate) {
                to = Math.min(to, Math.max(at, from + 100));
            }
        }
    }

    /** Files in {@code d}: a backup stages its manifests in tmp/ from its start to its commit. */
    static long filesIn(Path d) throws Exception {
        if (!Files.exists(d)) {
            return 0;
        }
        try (Stream<Path> files = Files.list(d)) {
            return files.count();
        }
    }

    static long bytesUnder(Path d) throws Exception {
        if (!Files.exists(d)) {
            return 0;
        }
        try (Stream<Path> files = Files.walk(d)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    static List<BackupRecord> committed(Path repo) throws Exception {
        try (Repository r = Repository.open(repo, null)) {
            return r.backups();
        }
    }

    /** The newest backups verify completely (the older ones did when they were newest). */
    static void verifyNewest(Path repo, int count, String why) throws Exception {
        List<BackupRecord> all = committed(repo);
        for (BackupRecord b : all.subList(Math.max(0, all.size() - count), all.size())) {
            assertEquals(0, Main.execute("verify", "--repo", repo.toString(), "--backup", Long.toString(b.id()), "--no-progress"),
                    "backup " + b.id() + " verifies: " + why);
        }
    }

    /** Reads the proxy's output until it is ready; returns its gRPC port, and drains the rest of its output. */
    static int awaitReady(Process proxy) throws Exception {
        BufferedReader out = new BufferedReader(new InputStreamReader(proxy.getInputStream(), StandardCharsets.UTF_8));
        int port = -1;
        StringBuilder seen = new StringBuilder();
        for (String line; (line = out.readLine()) != null; ) {
            seen.append(line).append('\n');
            Matcher m = PROXY.matcher(line);
            if (m.find()) {
                port = Integer.parseInt(m.group(1));
            }
            if (line.equals("ready") && port > 0) {
                Thread.ofVirtual().start(() -> out.lines().forEach(l -> { }));
                return port;
            }
        }
        throw new AssertionError("the proxy exited before it was ready:\n" + seen);
    }
}
