package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.Extent;
import io.netty.buffer.ByteBuf;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;

/**
 * A raw disk image file as a virtual disk's base content, read-only (writes go to the disk's
 * overlay, never to the file). All-zero grains are found once, when the image is opened, and
 * reported as holes, as a thin disk would report them; reads of them touch no file.
 */
public final class ImageContent implements BaseContent, AutoCloseable {
    private static final int SCAN = 1 << 20;

    private final Path path;
    private final FileChannel channel;
    private final long capacity;
    private final BitSet zeroGrains;

    private ImageContent(Path path, FileChannel channel, long capacity, BitSet zeroGrains) {
        this.path = path;
        this.channel = channel;
        this.capacity = capacity;
        this.zeroGrains = zeroGrains;
    }

    /** Opens {@code path} and maps which of its 64 KiB grains are all zeros. */
    public static ImageContent open(Path path) throws IOException {
        FileChannel ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            long size = ch.size();
            if (size == 0) {
                throw new IOException("disk image " + path + " is empty");
            }
            return new ImageContent(path, ch, size, scanZeros(ch, size));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static BitSet scanZeros(FileChannel ch, long size) throws IOException {
        BitSet zeros = new BitSet();
        ByteBuffer buf = ByteBuffer.allocateDirect(SCAN).order(ByteOrder.LITTLE_ENDIAN);
        for (long at = 0; at < size; at += SCAN) {
            buf.clear().limit((int) Math.min(SCAN, size - at));
            while (buf.hasRemaining()) {
                if (ch.read(buf, at + buf.position()) < 0) {
                    throw new IOException("disk image shrank while being read");
                }
            }
            for (int g = 0; g < buf.limit(); g += Grains.SIZE) {
                if (isZero(buf, g, Math.min(g + Grains.SIZE, buf.limit()))) {
                    zeros.set(Math.toIntExact(Grains.indexOf(at + g)));
                }
            }
        }
        return zeros;
    }

    private static boolean isZero(ByteBuffer buf, int from, int to) {
        int i = from;
        for (; i + 8 <= to; i += 8) {
            if (buf.getLong(i) != 0) {
                return false;
            }
        }
        for (; i < to; i++) {
            if (buf.get(i) != 0) {
                return false;
            }
        }
        return true;
    }

    public Path path() {
        return path;
    }

    @Override
    public long capacity() {
        return capacity;
    }

    @Override
    public void appendGrain(long grain, int from, int to, ByteBuf dst) {
        int n = to - from;
        if (zeroGrains.get(Math.toIntExact(grain))) {
            dst.writeZero(n);
            return;
        }
        long position = Grains.offsetOf(grain) + from;
        dst.ensureWritable(n);
        int w = dst.writerIndex();
        try {
            for (int done = 0; done < n; ) {
                int got = dst.setBytes(w + done, channel, position + done, n - done);
                if (got < 0) {
                    throw new IOException("disk image " + path + " ends before offset " + (position + done));
                }
                done += got;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading disk image " + path + " at offset " + position, e);
        }
        dst.writerIndex(w + n);
    }

    @Override
    public int allocationFlags(long grain) {
        return zeroGrains.get(Math.toIntExact(grain)) ? Extent.HOLE | Extent.ZERO : 0;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
