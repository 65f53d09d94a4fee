package io.blockmover.nativebridge.vddk;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** An nbdkit server on a free loopback port, for as long as the test holds it (a real NBD peer). */
final class NbdkitProcess implements AutoCloseable {
    private final Process process;
    final int port;

    private NbdkitProcess(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    /** {@code nbdkit [filters] PLUGIN ARGS...}, ready (listening) when this returns. */
    static NbdkitProcess start(Path dir, String... pluginAndArgs) throws IOException, InterruptedException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path pidFile = dir.resolve("nbdkit-" + port + ".pid");
        List<String> cmd = new ArrayList<>(List.of("nbdkit", "-f", "--exit-with-parent", "-i", "127.0.0.1",
                "-p", Integer.toString(port), "-P", pidFile.toString()));
        cmd.addAll(List.of(pluginAndArgs));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("nbdkit-" + port + ".log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Files.exists(pidFile)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new IOException("nbdkit did not start: " + Files.readString(dir.resolve("nbdkit-" + port + ".log")));
            }
            Thread.sleep(20);
        }
        return new NbdkitProcess(p, port);
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
