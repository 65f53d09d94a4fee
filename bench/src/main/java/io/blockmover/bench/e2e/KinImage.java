package io.blockmover.bench.e2e;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * A disk of the same kind as an image that shares none of its content: every non-zero 4 KiB block
 * XORed with one byte, zero blocks left as holes. Each byte maps to one other byte, so the copy
 * compresses as the image does, its repeated 4 KiB blocks repeat alike, its zero blocks stay holes;
 * yet none of its blocks equals one of the image's, so nothing deduplicates across them.
 *
 * <p>The warm proxy backs one up before its timed jobs. A proxy in service has backed up many such
 * disks; one that has seen only the 256 MiB warm-up disk is still compiling its hot paths during
 * the timed full (the NBD client's read path stayed in C1's tier-2 code until then; C2 took 2.3–2.8
 * of the full's 11–12 CPU-seconds on the file-system image: docs/performance.md, 2026-12-05).
 */
final class KinImage {
    private static final int BLOCK = 4096;
    private static final long PATTERN = 0x5A5A5A5A5A5A5A5AL;

    private KinImage() {}

    /** The kin of {@code image} in {@code work}, made once (again when the image is newer). */
    static Path of(Path image, Path work) throws IOException {
        Path kin = work.resolve(image.getFileName().toString().replaceFirst("\\.raw$", "") + "-kin.raw");
        if (Files.exists(kin) && Files.getLastModifiedTime(kin).compareTo(Files.getLastModifiedTime(image)) >= 0) {
            return kin;
        }
        Path tmp = work.resolve(kin.getFileName() + ".partial");
        long size = Files.size(image);
        try (RandomAccessFile sized = new RandomAccessFile(tmp.toFile(), "rw")) {
            sized.setLength(0);
            sized.setLength(size); // a hole throughout: only non-zero blocks are written
        }
        try (FileChannel in = FileChannel.open(image, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            for (long pos = 0; pos < size; pos += buf.limit()) {
                buf.clear().limit((int) Math.min(buf.capacity(), size - pos));
                while (buf.hasRemaining()) {
                    if (in.read(buf, pos + buf.position()) < 0) {
                        throw new IOException(image + " ended at " + (pos + buf.position()) + " of " + size + " bytes");
                    }
                }
                buf.flip();
                for (int b = 0; b < buf.limit(); b += BLOCK) {
                    int end = Math.min(b + BLOCK, buf.limit());
                    if (scramble(buf, b, end)) {
                        ByteBuffer block = buf.slice(b, end - b);
                        while (block.hasRemaining()) {
                            out.write(block, pos + b + block.position());
                        }
                    }
                }
            }
            out.force(false);
        }
        Files.move(tmp, kin, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return kin;
    }

    /** XORs bytes [from, to) of {@code buf} with the pattern unless all are zero; true if it did. */
    private static boolean scramble(ByteBuffer buf, int from, int to) {
        boolean zero = true;
        for (int i = from; i < to && zero; i++) {
            zero = buf.get(i) == 0;
        }
        if (zero) {
            return false;
        }
        int i = from;
        for (; i + Long.BYTES <= to; i += Long.BYTES) {
            buf.putLong(i, buf.getLong(i) ^ PATTERN);
        }
        for (; i < to; i++) {
            buf.put(i, (byte) (buf.get(i) ^ (byte) PATTERN));
        }
        return true;
    }
}
