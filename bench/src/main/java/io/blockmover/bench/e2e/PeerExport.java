package io.blockmover.bench.e2e;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** qemu-nbd serving an image read-only on loopback, the export every tool reads in the bench. */
final class PeerExport implements AutoCloseable {
    private final Process process;
    private final int port;

    private PeerExport(Process process, int port) {
        this.process = process;
        this.port = port;
    }

    /**
     * @param format     qemu image format ("raw", "qcow2")
     * @param dirtyBitmap a persistent qcow2 bitmap to expose as {@code qemu:dirty-bitmap:NAME}, or null
     */
    static PeerExport serve(Path image, String format, String name, String dirtyBitmap) throws IOException, InterruptedException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        List<String> cmd = new ArrayList<>(List.of("qemu-nbd", "-r", "-f", format, "-x", name, "-b", "127.0.0.1",
                "-p", Integer.toString(port), "--persistent", "--shared=16"));
        if (dirtyBitmap != null) {
            cmd.addAll(List.of("-B", dirtyBitmap));
        }
        cmd.add(image.toString());
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IOException("qemu-nbd exited with " + p.exitValue() + " serving " + image);
            }
            try (Socket probe = new Socket()) {
                probe.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return new PeerExport(p, port);
            } catch (IOException notYet) {
                Thread.sleep(50);
            }
        }
        p.destroyForcibly();
        throw new IOException("qemu-nbd did not listen on port " + port + " within 20 s");
    }

    String uri(String name) {
        return "nbd://127.0.0.1:" + port + "/" + name;
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
    }
}
