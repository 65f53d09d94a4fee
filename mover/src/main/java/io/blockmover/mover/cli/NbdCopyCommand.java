package io.blockmover.mover.cli;

import io.blockmover.mover.pipeline.TransferCounters;
import io.blockmover.mover.transport.DiskExtent;
import io.blockmover.mover.transport.DiskSource;
import io.blockmover.mover.transport.nbd.NbdDiskSource;
import io.blockmover.mover.transport.vddk.VddkDiskSource;
import io.blockmover.mover.transport.vddk.VddkSettings;
import io.blockmover.mover.transport.vddk.VddkUri;
import io.blockmover.mover.transport.nbd.NbdTuning;
import io.blockmover.nbd.units.Sizes;

import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code blockmover nbd-copy URI FILE|null:}: a raw copy of an export, reading only allocated
 * data (holes and zero runs are left unwritten, so the file stays sparse), timed so our client
 * can be compared with {@code nbdcopy} on equal terms.
 */
@Command(name = "nbd-copy", mixinStandardHelpOptions = true,
        description = "Copy an NBD export to a sparse raw file, or read it and discard the data (null:).")
public final class NbdCopyCommand implements Callable<Integer> {
    private static final long WINDOW = 1L << 30;

    @Parameters(index = "0", paramLabel = "URI",
            description = "The NBD export to read, or a vddk:// disk (read through VDDK, to compare the two transports).")
    String uri;

    @Parameters(index = "1", paramLabel = "FILE|null:", description = "Output file (created or truncated), or null: to discard.")
    String destination;

    @Option(names = "--requests", paramLabel = "N", description = "Requests in flight (default ${DEFAULT-VALUE}).")
    int requests = NbdTuning.DEFAULT_REQUESTS_IN_FLIGHT;

    @Option(names = "--request-size", paramLabel = "SIZE",
            description = "Bytes per request, e.g. 256K, 1M, 4M (default " + (NbdTuning.DEFAULT_REQUEST_SIZE >> 10) + "K).")
    String requestSize;

    @Option(names = "--connections", paramLabel = "C", description = "Connections when the server allows several (default ${DEFAULT-VALUE}).")
    int connections = NbdTuning.DEFAULT_CONNECTIONS;

    @Option(names = "--progress", negatable = true, description = "Show progress on stderr (default: when stderr is a terminal).")
    Boolean progress;

    @Mixin
    ConnectionOptions connection;

    @Mixin
    VddkOptions vddk;

    @Override
    public Integer call() throws Exception {
        int size = requestSize == null ? NbdTuning.DEFAULT_REQUEST_SIZE : requestSize(requestSize);
        if (requests < 1 || requests > 4096) {
            throw new IllegalArgumentException("--requests must be 1..4096: " + requests);
        }
        boolean discard = destination.equals("null:");
        boolean showProgress = progress != null ? progress : System.console() != null && System.console().isTerminal();
        try (ProgressDisplay display = ProgressDisplay.on(System.err, showProgress);
             DiskSource source = open();
             FileChannel out = discard ? null : FileChannel.open(Path.of(destination), StandardOpenOption.CREATE,
                     StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            if (out != null) {
                // Set the size first: what is never written stays a hole.
                out.truncate(0);
                if (source.capacity() > 0) {
                    out.write(ByteBuffer.allocate(1), source.capacity() - 1);
                }
            }
            TransferCounters counters = new TransferCounters(source.capacity());
            display.track(uri, counters);
            Copy copy = new Copy(source, out, source.blockConstraints().requestSize(size), requests, counters);
            long start = System.nanoTime();
            copy.run();
            double seconds = (System.nanoTime() - start) / 1e9;
            display.close();
            System.err.printf(Locale.ROOT, "copied %d bytes (%d read, %s, %d x %d bytes in flight) in %.2f s: %.1f MB/s%n",
                    source.capacity(), copy.readBytes.get(), describe(source), requests, copy.requestSize, seconds,
                    source.capacity() / seconds / 1e6);
        }
        return 0;
    }

    private DiskSource open() throws Exception {
        if (!VddkUri.isVddk(uri)) {
            return NbdDiskSource.open(connection.uri(uri), connection.options(connections));
        }
        VddkSettings settings = vddk.settings();
        return VddkDiskSource.open(VddkUri.parse(uri), settings, Optional.empty());
    }

    private String describe(DiskSource source) {
        return switch (source) {
            case NbdDiskSource n -> n.client().connections() + " connections";
            case VddkDiskSource v -> "VDDK mode " + v.mode() + ", " + v.readMethod();
            default -> source.getClass().getSimpleName();
        };
    }

    /** Parses 4096, 256K, 1M, 4MiB. */
    private static int requestSize(String text) {
        long v = Sizes.parseBytes(text);
        if (v < 4096 || v > 64L << 20) {
            throw new IllegalArgumentException("--request-size must be between 4K and 64M: " + text);
        }
        return (int) v;
    }

    /** The copy loop: reads of allocated data with a bounded number in flight. */
    private static final class Copy {
        private final DiskSource source;
        private final FileChannel out;
        private final int requestSize;
        private final Semaphore slots;
        private final int maxInFlight;
        private final TransferCounters counters;
        private final ExecutorService writer;
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        final AtomicLong readBytes = new AtomicLong();

        Copy(DiskSource source, FileChannel out, int requestSize, int inFlight, TransferCounters counters) {
            this.source = source;
            this.out = out;
            this.requestSize = requestSize;
            this.maxInFlight = inFlight;
            this.slots = new Semaphore(inFlight);
            this.counters = counters;
            // File writes must not run on the network threads.
            this.writer = out == null ? null : Executors.newFixedThreadPool(2, r -> {
                Thread t = new Thread(r, "nbd-copy-writer");
                t.setDaemon(true);
                return t;
            });
        }

        void run() throws Exception {
            try {
                long capacity = source.capacity();
                for (long window = 0; window < capacity && failure.get() == null; window += WINDOW) {
                    List<DiskExtent> extents = source.extents(window, Math.min(WINDOW, capacity - window)).get();
                    for (DiskExtent e : extents) {
                        if (e.kind() != DiskExtent.Kind.DATA) {
                            counters.skippedHoles(e.length());
                            continue;
                        }
                        for (long at = e.offset(); at < e.end() && failure.get() == null; at += requestSize) {
                            int n = (int) Math.min(requestSize, e.end() - at);
                            slots.acquire();
                            if (failure.get() != null) {
                                slots.release();
                                break;
                            }
                            submit(at, n);
                        }
                    }
                }
                slots.acquire(maxInFlight);
            } finally {
                if (writer != null) {
                    writer.shutdownNow();
                }
            }
            Throwable t = failure.get();
            if (t instanceof Exception ex) {
                throw ex;
            } else if (t != null) {
                throw new IOException(t);
            }
        }

        private void submit(long offset, int length) {
            source.read(offset, length).whenComplete((buf, err) -> {
                if (err != null) {
                    failure.compareAndSet(null, err instanceof java.util.concurrent.CompletionException c && c.getCause() != null ? c.getCause() : err);
                    slots.release();
                } else if (out == null) {
                    readBytes.addAndGet(length);
                    counters.read(length);
                    counters.completed(length);
                    buf.release();
                    slots.release();
                } else {
                    writer.execute(() -> write(offset, buf));
                }
            });
        }

        private void write(long offset, ByteBuf buf) {
            try {
                long at = offset;
                for (ByteBuffer b : buf.nioBuffers()) {
                    while (b.hasRemaining()) {
                        at += out.write(b, at);
                    }
                }
                readBytes.addAndGet(buf.readableBytes());
                counters.read(buf.readableBytes());
                counters.completed(buf.readableBytes());
            } catch (IOException | RuntimeException e) {
                failure.compareAndSet(null, e);
            } finally {
                buf.release();
                slots.release();
            }
        }
    }
}
