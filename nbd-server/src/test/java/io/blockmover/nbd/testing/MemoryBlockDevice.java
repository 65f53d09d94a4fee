package io.blockmover.nbd.testing;

import io.blockmover.nbd.server.BlockDevice;
import io.blockmover.nbd.server.BlockSizes;
import io.blockmover.nbd.server.Extent;
import io.blockmover.nbd.server.StatusContext;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A sparse in-memory {@link BlockDevice} for tests: 64 KiB pages allocated on first write.
 * Unallocated pages read as zeros and report {@code HOLE|ZERO}; allocated pages report data
 * (flags 0) even when they hold zeros, as a thin disk would. Zeroing with holes allowed and
 * trimming free whole pages. Extra meta contexts can be attached for block-status tests.
 */
public final class MemoryBlockDevice implements BlockDevice {
    public static final int PAGE = 64 * 1024;

    private final long size;
    private final boolean readOnly;
    private final BlockSizes blockSizes;
    private final Map<String, StatusContext> contexts;
    private final ConcurrentHashMap<Long, byte[]> pages;
    private final AtomicLong flushes = new AtomicLong();

    public MemoryBlockDevice(long size) {
        this(size, false, BlockSizes.DEFAULT, List.of());
    }

    public MemoryBlockDevice(long size, boolean readOnly, BlockSizes blockSizes, List<StatusContext> contexts) {
        this.size = size;
        this.readOnly = readOnly;
        this.blockSizes = blockSizes;
        this.contexts = contexts.stream().collect(Collectors.toUnmodifiableMap(StatusContext::name, Function.identity()));
        this.pages = new ConcurrentHashMap<>();
    }

    /** The same pages seen through a read-only device (writes through the original still show). */
    public MemoryBlockDevice readOnlyView() {
        return new MemoryBlockDevice(this, true);
    }

    private MemoryBlockDevice(MemoryBlockDevice other, boolean readOnly) {
        this.size = other.size;
        this.readOnly = readOnly;
        this.blockSizes = other.blockSizes;
        this.contexts = other.contexts;
        this.pages = other.pages;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean isReadOnly() {
        return readOnly;
    }

    @Override
    public BlockSizes blockSizes() {
        return blockSizes;
    }

    @Override
    public void read(long offset, int length, ByteBuf dst) {
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int inPage = (int) (pos % PAGE);
            int n = (int) Math.min(PAGE - inPage, end - pos);
            byte[] page = pages.get(pos / PAGE);
            if (page == null) {
                dst.writeZero(n);
            } else {
                synchronized (page) {
                    dst.writeBytes(page, inPage, n);
                }
            }
            pos += n;
        }
    }

    @Override
    public void write(long offset, ByteBuf src) {
        int index = src.readerIndex();
        long pos = offset;
        long end = offset + src.readableBytes();
        while (pos < end) {
            int inPage = (int) (pos % PAGE);
            int n = (int) Math.min(PAGE - inPage, end - pos);
            byte[] page = pages.computeIfAbsent(pos / PAGE, p -> new byte[PAGE]);
            synchronized (page) {
                src.getBytes(index, page, inPage, n);
            }
            index += n;
            pos += n;
        }
    }

    /** Test setup: writes bytes regardless of read-only. */
    public void fill(long offset, byte[] data) {
        write(offset, Unpooled.wrappedBuffer(data));
    }

    @Override
    public void writeZeroes(long offset, long length, boolean mayPunchHole) {
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            int inPage = (int) (pos % PAGE);
            int n = (int) Math.min(PAGE - inPage, end - pos);
            long index = pos / PAGE;
            if (mayPunchHole && n == PAGE) {
                pages.remove(index);
            } else {
                byte[] page = mayPunchHole ? pages.get(index) : pages.computeIfAbsent(index, p -> new byte[PAGE]);
                if (page != null) {
                    synchronized (page) {
                        Arrays.fill(page, inPage, inPage + n, (byte) 0);
                    }
                }
            }
            pos += n;
        }
    }

    @Override
    public void trim(long offset, long length) {
        writeZeroes(offset, length, true);
    }

    @Override
    public void flush() {
        flushes.incrementAndGet();
    }

    /** How many FLUSH requests reached the device. */
    public long flushCount() {
        return flushes.get();
    }

    public int allocatedPages() {
        return pages.size();
    }

    @Override
    public List<Extent> extents(long offset, long length) {
        List<Extent> result = new ArrayList<>();
        long pos = offset;
        long end = Math.min(size, offset + length);
        int runFlags = -1;
        long runLength = 0;
        while (pos < end) {
            long n = Math.min(PAGE - pos % PAGE, end - pos);
            int flags = pages.containsKey(pos / PAGE) ? 0 : Extent.HOLE | Extent.ZERO;
            if (flags != runFlags && runLength > 0) {
                result.add(new Extent(runLength, runFlags));
                runLength = 0;
            }
            runFlags = flags;
            runLength += n;
            pos += n;
        }
        if (runLength > 0) {
            result.add(new Extent(runLength, runFlags));
        }
        return result;
    }

    @Override
    public Optional<StatusContext> metaContext(String name) {
        return Optional.ofNullable(contexts.get(name));
    }

    @Override
    public List<String> listMetaContexts(String prefix) {
        return contexts.keySet().stream().filter(n -> n.startsWith(prefix)).sorted().toList();
    }

    /** Every byte of the device, for small devices in tests. */
    public byte[] contents() {
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("device too large to copy: " + size);
        }
        ByteBuf buf = Unpooled.buffer((int) size);
        read(0, (int) size, buf);
        byte[] bytes = new byte[(int) size];
        buf.readBytes(bytes);
        return bytes;
    }

    /** SHA-256 of the whole device, computed page by page. */
    public byte[] sha256() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] zeros = new byte[PAGE];
            for (long pos = 0; pos < size; pos += PAGE) {
                int n = (int) Math.min(PAGE, size - pos);
                byte[] page = pages.get(pos / PAGE);
                if (page == null) {
                    md.update(zeros, 0, n);
                } else {
                    synchronized (page) {
                        md.update(page, 0, n);
                    }
                }
            }
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
