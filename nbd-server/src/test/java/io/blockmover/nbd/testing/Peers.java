package io.blockmover.nbd.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Real peer programs for interop tests: find them, run them with a timeout, or keep one
 * running as a server. A missing tool fails the test with the Debian package to install
 * ({@code make test} installs them); it never skips.
 */
public final class Peers {
    private Peers() {}

    /** Which Debian package ships each tool the tests use. */
    private static final Map<String, String> PACKAGES = Map.ofEntries(
            Map.entry("nbdinfo", "libnbd-bin"),
            Map.entry("nbdcopy", "libnbd-bin"),
            Map.entry("nbdsh", "libnbd-bin"),
            Map.entry("qemu-img", "qemu-utils"),
            Map.entry("qemu-io", "qemu-utils"),
            Map.entry("qemu-nbd", "qemu-utils"),
            Map.entry("nbdkit", "nbdkit"),
            Map.entry("nbd-server", "nbd-server"),
            Map.entry("certtool", "gnutls-bin"),
            Map.entry("gnutls-cli", "gnutls-bin"),
            Map.entry("openssl", "openssl"));

    /** The output of a finished command. */
    public record Result(List<String> command, int exitCode, String stdout, String stderr) {
        /** This result, or an AssertionError with the command's output when it failed. */
        public Result requireSuccess() {
            if (exitCode != 0) {
                throw new AssertionError(describe());
            }
            return this;
        }

        public String describe() {
            return String.join(" ", command) + " exited " + exitCode + "\nstdout: " + stdout + "\nstderr: " + stderr;
        }
    }

    /** The absolute path of {@code tool} on PATH; fails naming the Debian package when absent. */
    public static Path require(String tool) {
        return find(tool).orElseThrow(() -> new AssertionError(tool + " not found on PATH; install the Debian package "
                + PACKAGES.getOrDefault(tool, "that provides it") + " (make test installs it)"));
    }

    public static Optional<Path> find(String tool) {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String dir : path.split(":")) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, tool);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return Optional.of(candidate.toAbsolutePath());
            }
        }
        return Optional.empty();
    }

    /** Runs a command (its first element a tool name) to completion; kills it after {@code timeout}. */
    public static Result run(Duration timeout, List<String> command) {
        return run(timeout, Map.of(), command);
    }

    public static Result run(Duration timeout, String... command) {
        return run(timeout, List.of(command));
    }

    public static Result run(Duration timeout, Map<String, String> environment, List<String> command) {
        ProcessBuilder pb = new ProcessBuilder(resolve(command));
        pb.environment().putAll(environment);
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command, e);
        }
        try {
            process.getOutputStream().close();
            StreamCollector out = StreamCollector.start(process.getInputStream());
            StreamCollector err = StreamCollector.start(process.getErrorStream());
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                kill(process);
                throw new AssertionError(String.join(" ", command) + " did not finish within " + timeout
                        + "\nstdout: " + out.text() + "\nstderr: " + err.text());
            }
            return new Result(command, process.exitValue(), out.finalText(), err.finalText());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while running " + command, e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            kill(process);
        }
    }

    /**
     * Starts a long-running peer (qemu-nbd, nbdkit -f, ...) and waits until {@code port} on
     * 127.0.0.1 accepts connections. Fails with the peer's output if it exits first.
     */
    public static Peer start(List<String> command, int port, Duration timeout) {
        ProcessBuilder pb = new ProcessBuilder(resolve(command)).redirectErrorStream(true);
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command, e);
        }
        Peer peer = new Peer(command, process, StreamCollector.start(process.getInputStream()));
        try {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                if (!process.isAlive()) {
                    throw new AssertionError(String.join(" ", command) + " exited " + process.exitValue()
                            + " before listening on port " + port + ": " + peer.output.finalText());
                }
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    return peer;
                } catch (IOException notYet) {
                    if (System.nanoTime() > deadline) {
                        throw new AssertionError(String.join(" ", command) + " not listening on port " + port
                                + " after " + timeout + ": " + peer.output());
                    }
                    Thread.sleep(20);
                }
            }
        } catch (InterruptedException e) {
            peer.close();
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        } catch (RuntimeException | Error e) {
            peer.close();
            throw e;
        }
    }

    /** A running peer process; closing it kills it and its children. */
    public static final class Peer implements AutoCloseable {
        private final List<String> command;
        private final Process process;
        private final StreamCollector output;

        private Peer(List<String> command, Process process, StreamCollector output) {
            this.command = command;
            this.process = process;
            this.output = output;
        }

        public boolean isAlive() {
            return process.isAlive();
        }

        /** Everything the peer printed so far (stdout and stderr together). */
        public String output() {
            return output.text();
        }

        @Override
        public void close() {
            kill(process);
        }

        @Override
        public String toString() {
            return String.join(" ", command);
        }
    }

    private static List<String> resolve(List<String> command) {
        String tool = command.getFirst();
        if (tool.contains("/")) {
            return command;
        }
        List<String> resolved = new java.util.ArrayList<>(command);
        resolved.set(0, require(tool).toString());
        return resolved;
    }

    private static void kill(Process process) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /** Drains a process stream on a virtual thread so the child never blocks on a full pipe. */
    private static final class StreamCollector {
        private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        private final Thread thread;

        private StreamCollector(InputStream in) {
            thread = Thread.ofVirtual().unstarted(() -> {
                byte[] chunk = new byte[8192];
                try (in) {
                    int n;
                    while ((n = in.read(chunk)) > 0) {
                        synchronized (buffer) {
                            buffer.write(chunk, 0, n);
                        }
                    }
                } catch (IOException ignored) {
                    // the process went away; what we have is all there is
                }
            });
        }

        static StreamCollector start(InputStream in) {
            StreamCollector c = new StreamCollector(in);
            c.thread.start();
            return c;
        }

        /** The complete text, once the process has ended (waits briefly for the pipe to drain). */
        String finalText() {
            try {
                thread.join(Duration.ofSeconds(2));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return text();
        }

        /** The text so far. */
        String text() {
            synchronized (buffer) {
                return buffer.toString(StandardCharsets.UTF_8);
            }
        }
    }
}
