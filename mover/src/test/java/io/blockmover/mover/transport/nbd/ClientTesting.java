package io.blockmover.mover.transport.nbd;

import io.blockmover.mover.transport.DiskExtent;
import io.blockmover.mover.transport.DiskSource;
import io.blockmover.nbd.testing.FreePorts;
import io.blockmover.nbd.testing.Peers;
import io.netty.buffer.ByteBuf;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/** Shared helpers of the NBD client's peer tests. */
final class ClientTesting {
    private ClientTesting() {}

    /** An nbdkit (foreground) on a free port; the caller closes it. */
    record Nbdkit(Peers.Peer peer, int port) implements AutoCloseable {
        String uri(String scheme) {
            return scheme + "://127.0.0.1:" + port + "/";
        }

        @Override
        public void close() {
            peer.close();
        }
    }

    static Nbdkit nbdkit(String... args) {
        int port = FreePorts.find();
        List<String> cmd = new ArrayList<>(List.of("nbdkit", "-f", "-v", "-p", String.valueOf(port), "-i", "127.0.0.1"));
        cmd.addAll(List.of(args));
        return new Nbdkit(Peers.start(cmd, port, Duration.ofSeconds(20)), port);
    }

    /**
     * Reads the whole disk with {@code inFlight} requests of {@code requestSize} outstanding
     * and returns its bytes (small test disks only).
     */
    static byte[] readAll(DiskSource source, int requestSize, int inFlight) throws Exception {
        long capacity = source.capacity();
        byte[] out = new byte[Math.toIntExact(capacity)];
        Semaphore slots = new Semaphore(inFlight);
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (long at = 0; at < capacity; at += requestSize) {
            int n = (int) Math.min(requestSize, capacity - at);
            long offset = at;
            slots.acquire();
            all.add(source.read(offset, n).thenAccept(buf -> {
                try {
                    if (buf.readableBytes() != n) {
                        throw new AssertionError("read at " + offset + " returned " + buf.readableBytes() + " bytes, not " + n);
                    }
                    buf.getBytes(buf.readerIndex(), out, (int) offset, n);
                } finally {
                    buf.release();
                }
            }).whenComplete((v, e) -> slots.release()));
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        return out;
    }

    static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    static String sha256(ByteBuf buf) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        for (java.nio.ByteBuffer b : buf.nioBuffers()) {
            md.update(b);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** The disk as nbdcopy (libnbd) reads it, for comparison with ours. */
    static byte[] readWithNbdcopy(String uri, java.nio.file.Path scratch) throws Exception {
        Peers.run(Duration.ofSeconds(60), "nbdcopy", uri, scratch.toString()).requireSuccess();
        return java.nio.file.Files.readAllBytes(scratch);
    }

    /**
     * {@code nbdinfo --map} of {@code uri} as extents (base:allocation: type 0 data, 2 zero,
     * 3 hole+zero), merged like {@link NbdDiskSource#extents} merges them.
     */
    static List<DiskExtent> nbdinfoMap(String uri) {
        String out = Peers.run(Duration.ofSeconds(30), "nbdinfo", "--map", uri).requireSuccess().stdout();
        List<DiskExtent> extents = new ArrayList<>();
        for (String line : out.strip().split("\n")) {
            String[] f = line.trim().split("\\s+");
            long offset = Long.parseLong(f[0]);
            long length = Long.parseLong(f[1]);
            int type = Integer.parseInt(f[2]);
            DiskExtent.Kind kind = (type & 2) == 0 ? DiskExtent.Kind.DATA
                    : (type & 1) != 0 ? DiskExtent.Kind.HOLE : DiskExtent.Kind.ZERO;
            if (!extents.isEmpty() && extents.getLast().kind() == kind && extents.getLast().end() == offset) {
                DiskExtent last = extents.removeLast();
                extents.add(new DiskExtent(last.offset(), last.length() + length, kind));
            } else {
                extents.add(new DiskExtent(offset, length, kind));
            }
        }
        return extents;
    }

    /** nbdkit's pattern plugin: every 8-byte word holds its own offset, big-endian. */
    static byte[] pattern(long size) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(Math.toIntExact(size));
        for (long off = 0; off < size; off += 8) {
            b.putLong(off);
        }
        return b.array();
    }
}
