package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.Extent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The base content of one virtual disk, before any write: a pure function of (seed, disk key,
 * byte offset). Anyone holding these three values computes any byte, the allocation map or the
 * SHA-256 of the disk without a server, which is how tests verify backups and restores exactly.
 *
 * <p>The class of a grain is drawn per run of {@link #RUN_GRAINS} grains (1 MiB) so the allocation
 * map has realistic extents rather than a new one every 64 KiB. Duplicate runs copy whole runs of
 * a {@link #POOL_RUNS}-run pool derived from the seed alone, so they repeat within a disk and
 * across disks and VMs, aligned for dedup at any chunk size up to 1 MiB.
 *
 * @param diskKey distinguishes the disks of one host; see {@link EsxHost} for how it is assigned
 */
public record DiskContent(long seed, long diskKey, Profile profile, long capacity) implements BaseContent {

    public static final int RUN_GRAINS = 16;
    public static final int POOL_RUNS = 64;

    private static final long CLASS_SALT = 0x1L;
    private static final long GRAIN_SALT = 0x2L;
    private static final long POOL_PICK_SALT = 0x3L;
    private static final long POOL_KEY = 0x706F6F6CL;

    public DiskContent {
        if (capacity < 0) {
            throw new IllegalArgumentException("capacity must not be negative: " + capacity);
        }
    }

    @Override
    public long grainCount() {
        return Grains.count(capacity);
    }

    public GrainClass classOf(long grain) {
        long h = Generators.derive(seed ^ CLASS_SALT, diskKey, grain / RUN_GRAINS);
        return profile.classAt((int) Math.unsignedMultiplyHigh(h, profile.total()));
    }

    /** Appends bytes {@code [from, to)} of this grain's base content (0 <= from <= to <= 64 KiB). */
    @Override
    public void appendGrain(long grain, int from, int to, ByteBuf dst) {
        switch (classOf(grain)) {
            case HOLE, ZERO -> Generators.appendZeros(to - from, dst);
            case TEXT -> Generators.appendText(Generators.derive(seed ^ GRAIN_SALT, diskKey, grain), from, to, dst);
            case RANDOM -> Generators.appendRandom(Generators.derive(seed ^ GRAIN_SALT, diskKey, grain), from, to, dst);
            case DUPLICATE -> Generators.appendRandom(poolGrainSeed(grain), from, to, dst);
        }
    }

    private long poolGrainSeed(long grain) {
        long run = grain / RUN_GRAINS;
        long pick = Long.remainderUnsigned(Generators.derive(seed ^ POOL_PICK_SALT, diskKey, run), POOL_RUNS);
        return Generators.derive(seed, POOL_KEY, pick * RUN_GRAINS + grain % RUN_GRAINS);
    }

    /** Appends {@code length} bytes of base content from {@code offset} to {@code dst}. */
    @Override
    public void read(long offset, int length, ByteBuf dst) {
        checkRange(offset, length);
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            long grain = Grains.indexOf(pos);
            int from = (int) (pos & Grains.MASK);
            int to = (int) Math.min(Grains.SIZE, end - Grains.offsetOf(grain));
            appendGrain(grain, from, to, dst);
            pos += to - from;
        }
    }

    @Override
    public int allocationFlags(long grain) {
        return allocationFlags(classOf(grain));
    }

    /** {@code base:allocation} flags of a grain of this class. */
    static int allocationFlags(GrainClass c) {
        return switch (c) {
            case HOLE -> Extent.HOLE | Extent.ZERO;
            case ZERO -> Extent.ZERO;
            default -> 0;
        };
    }

    /** The base content's allocation map of a range, adjacent grains of equal flags merged. */
    public List<Extent> allocation(long offset, long length) {
        checkRange(offset, length);
        List<Extent> out = new ArrayList<>();
        long pos = offset;
        long end = offset + length;
        int runFlags = -1;
        long runStart = offset;
        while (pos < end) {
            long grain = Grains.indexOf(pos);
            long next = Math.min(end, Grains.offsetOf(grain + 1));
            int flags = allocationFlags(classOf(grain));
            if (flags != runFlags) {
                if (runFlags >= 0) {
                    out.add(new Extent(pos - runStart, runFlags));
                }
                runFlags = flags;
                runStart = pos;
            }
            pos = next;
        }
        if (runFlags >= 0) {
            out.add(new Extent(end - runStart, runFlags));
        }
        return out;
    }

    /** SHA-256 (lower-case hex) of the whole base content. */
    @Override
    public String sha256() {
        return sha256Of(this::read, capacity);
    }

    /** Something that appends {@code length} bytes from {@code offset}, such as a disk view. */
    @FunctionalInterface
    public interface Reader {
        void read(long offset, int length, ByteBuf dst) throws java.io.IOException;
    }

    /** SHA-256 (lower-case hex) of {@code size} bytes read in 1 MiB pieces. */
    public static String sha256Of(Reader reader, long size) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("JDK without SHA-256", e);
        }
        ByteBuf buf = Unpooled.buffer(1 << 20);
        try {
            for (long pos = 0; pos < size; ) {
                int n = (int) Math.min(1 << 20, size - pos);
                buf.clear();
                reader.read(pos, n, buf);
                md.update(buf.array(), buf.arrayOffset(), n);
                pos += n;
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } finally {
            buf.release();
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset + length > capacity || offset + length < 0) {
            throw new IndexOutOfBoundsException("range " + offset + "+" + length + " outside disk of " + capacity);
        }
    }
}
