package io.blockmover.bench.e2e;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A server the bench talks to (the emulated host, nbdkit, the backup proxy), stopped on close. */
final class PeerProcess implements AutoCloseable {
    private static final Pattern PROXY_ADDRESS = Pattern.compile("blockmover proxy: grpc 127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern EXPORT_URI = Pattern.compile("^(nbd://127\\.0\\.0\\.1:(\\d+)/\\S+)$");
    private static final Pattern ESX_ADDRESS = Pattern.compile("esxsim: nbd 127\\.0\\.0\\.1:(\\d+)(?: control (\\S+))?");

    private final Process process;
    private final int port;
    private final String controlUrl;
    private final List<String> banner;

    private PeerProcess(Process process, int port, String controlUrl, List<String> banner) {
        this.banner = List.copyOf(banner);
        this.process = process;
        this.port = port;
        this.controlUrl = controlUrl;
    }

    int port() {
        return port;
    }

    /** The emulated host's control API (when started with --control), else null. */
    /**
     * The word after {@code label} in what the process printed before "ready", e.g. the URL
     * after "vSphere API" or the thumbprint after "SHA-256 thumbprint".
     */
    String banner(String label) {
        for (String line : banner) {
            int at = line.indexOf(label + " ");
            if (at >= 0) {
                return line.substring(at + label.length() + 1).split(" ")[0];
            }
        }
        throw new IllegalStateException("the process printed no '" + label + "' before it was ready: " + banner);
    }

    String controlUrl() {
        return controlUrl;
    }

    /** {@code blockmover esxsim} with the given arguments, once it has printed {@code ready}. */
    static PeerProcess esxsim(String launcher, List<String> args) throws IOException {
        List<String> cmd = new java.util.ArrayList<>(List.of(launcher, "esxsim", "--listen", "127.0.0.1:0"));
        cmd.addAll(args);
        return startUntilReady(cmd, ESX_ADDRESS);
    }

    /** {@code blockmover export} of the repository's latest backup on a free port, once ready; {@link #uri()} names its first disk. */
    static PeerProcess export(String launcher, java.nio.file.Path repo, List<String> args) throws IOException {
        List<String> cmd = new java.util.ArrayList<>(List.of(launcher, "export", "--repo", repo.toString(), "--listen", "127.0.0.1:0"));
        cmd.addAll(args);
        return startUntilReady(cmd, EXPORT_URI);
    }

    /** qemu-nbd serving a raw file read-only on a free port, once it accepts connections. */
    static PeerProcess qemuNbd(java.nio.file.Path file) throws IOException, InterruptedException {
        return qemuNbd(file, "raw", null, null);
    }

    /** The NBD URI the process printed (exports), or the control URL (the emulated host). */
    String uri() {
        return controlUrl;
    }

    /** {@code blockmover serve}: the backup proxy over the repository {@code repoArgs} name, restoring files into {@code restoreDir}, once ready. */
    static PeerProcess proxy(String launcher, List<String> repoArgs, java.nio.file.Path restoreDir) throws IOException {
        List<String> cmd = new java.util.ArrayList<>(List.of(launcher, "serve", "--no-auth", "--listen", "127.0.0.1:0",
                "--restore-dir", restoreDir.toString(), "--allow-source", "127.0.0.1:*"));
        cmd.addAll(repoArgs);
        return startUntilReady(cmd, PROXY_ADDRESS);
    }

    long pid() {
        return process.pid();
    }

    private static PeerProcess startUntilReady(List<String> cmd, Pattern address) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        try {
            int port = -1;
            String control = null;
            List<String> banner = new java.util.ArrayList<>();
            for (String line; (line = out.readLine()) != null; ) {
                banner.add(line);
                Matcher m = address.matcher(line);
                if (m.find() && port < 0) {
                    if (address == EXPORT_URI) {
                        port = Integer.parseInt(m.group(2));
                        control = m.group(1);
                    } else {
                        port = Integer.parseInt(m.group(1));
                        control = m.groupCount() > 1 ? m.group(2) : null;
                    }
                }
                if (line.equals("ready") && port > 0) {
                    Thread.ofVirtual().start(() -> drain(out)); // so it never blocks on a full pipe
                    return new PeerProcess(p, port, control, banner);
                }
            }
        } catch (IOException | RuntimeException e) {
            p.destroyForcibly();
            throw e;
        }
        p.destroyForcibly();
        throw new IOException("exited before it was ready: " + cmd);
    }

    private static void drain(BufferedReader out) {
        try (out) {
            while (out.readLine() != null) {
                // discard
            }
        } catch (IOException ended) {
            // the process is gone
        }
    }

    /** {@code nbdkit PLUGIN ARGS...} on a free loopback port, once it accepts connections. */
    static PeerProcess nbdkit(String... pluginAndArgs) throws IOException, InterruptedException {
        int port = freePort();
        List<String> cmd = new java.util.ArrayList<>(List.of("nbdkit", "-f", "-i", "127.0.0.1", "-p", Integer.toString(port)));
        cmd.addAll(List.of(pluginAndArgs));
        return awaitPort(cmd, port);
    }

    /**
     * {@code qemu-nbd} serving {@code image} read-only as export {@code name} (null: the default
     * export), several clients at once; with a {@code bitmap}, also its meta context
     * {@code qemu:dirty-bitmap:BITMAP} (qemu's changed block tracking).
     */
    static PeerProcess qemuNbd(java.nio.file.Path image, String format, String name, String bitmap)
            throws IOException, InterruptedException {
        int port = freePort();
        List<String> cmd = new java.util.ArrayList<>(List.of("qemu-nbd", "-r", "-f", format, "-b", "127.0.0.1",
                "-p", Integer.toString(port), "--persistent", "--shared=8"));
        if (name != null) {
            cmd.addAll(List.of("-x", name));
        }
        if (bitmap != null) {
            cmd.addAll(List.of("-A", "-B", bitmap));
        }
        cmd.add(image.toString());
        return awaitPort(cmd, port);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Starts {@code cmd} and waits until it accepts connections on {@code port}. */
    private static PeerProcess awaitPort(List<String> cmd, int port) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline && p.isAlive()) {
            try (Socket probe = new Socket()) {
                probe.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return new PeerProcess(p, port, null, List.of());
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        p.destroyForcibly();
        throw new IOException("did not start: " + cmd);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
    }
}
