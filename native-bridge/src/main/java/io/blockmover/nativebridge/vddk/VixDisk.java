package io.blockmover.nativebridge.vddk;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One open VixDiskLib handle. VDDK forbids concurrent calls on a handle, so every call on it runs
 * on the handle's own worker thread, in submission order; callers get futures. Offsets and
 * lengths are bytes here and must be whole sectors; sectors exist only inside this class.
 *
 * <p>{@link #readAsync} pipelines: the worker only submits ReadAsync (which answers VIX_ASYNC at
 * once) and the completion upcall, on VDDK's thread, completes the future. {@link #read} is the
 * plain synchronous Read, for spreading a disk over several handles instead.
 */
public final class VixDisk implements AutoCloseable {
    public static final int SECTOR_SIZE = 512;
    /** QueryAllocatedBlocks' limits: chunks of at least 128 sectors, at most 524288 chunks per call. */
    static final long MIN_CHUNK_SECTORS = 128;
    static final long MAX_CHUNK_SECTORS = 131072;
    static final long MAX_CHUNKS = 524288;
    private static final long VIX_ASYNC = 25000;
    private static final AtomicInteger workers = new AtomicInteger();

    private final VixDiskLib lib;
    private final MemorySegment handle;
    private final String path;
    private final ExecutorService worker;
    private final DiskInfo info;
    private final String mode;
    private boolean closed;

    private VixDisk(VixDiskLib lib, MemorySegment handle, String path, ExecutorService worker, DiskInfo info, String mode) {
        this.lib = lib;
        this.handle = handle;
        this.path = path;
        this.worker = worker;
        this.info = info;
        this.mode = mode;
    }

    /** Takes ownership of a handle Open returned: reads its info and mode, then gives it a worker. */
    static VixDisk opened(VixDiskLib lib, MemorySegment handle, String path) throws VixException {
        try {
            DiskInfo info = readInfo(lib, handle);
            MemorySegment m = (MemorySegment) lib.fn.getTransportMode.invokeExact(handle);
            String mode = m.equals(MemorySegment.NULL) ? "unknown" : VixDiskLib.cString(m);
            ExecutorService worker = Executors.newSingleThreadExecutor(
                    Thread.ofPlatform().name("vddk-" + mode + "-" + workers.incrementAndGet()).daemon().factory());
            return new VixDisk(lib, handle, path, worker, info, mode);
        } catch (Throwable t) {
            try {
                long ignored = (long) lib.fn.close.invokeExact(handle);
            } catch (Throwable suppressed) {
                t.addSuppressed(suppressed);
            }
            if (t instanceof VixException v) {
                throw v;
            }
            throw VixDiskLib.rethrow(t);
        }
    }

    private static DiskInfo readInfo(VixDiskLib lib, MemorySegment handle) throws Throwable {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment out = call.allocate(ADDRESS);
            lib.check("GetInfo", (long) lib.fn.getInfo.invokeExact(handle, out));
            MemorySegment i = out.get(ADDRESS, 0).reinterpret(VixLayouts.INFO.byteSize());
            try {
                int logical = i.get(JAVA_INT, VixLayouts.offset(VixLayouts.INFO, "logicalSectorSize"));
                return new DiskInfo(
                        i.get(JAVA_LONG, VixLayouts.offset(VixLayouts.INFO, "capacity")) * SECTOR_SIZE,
                        logical == 0 ? SECTOR_SIZE : logical, // 0 from VDDK before 7.0, whose struct ends earlier
                        i.get(JAVA_INT, VixLayouts.offset(VixLayouts.INFO, "physicalSectorSize")),
                        i.get(JAVA_INT, VixLayouts.offset(VixLayouts.INFO, "adapterType")),
                        i.get(JAVA_INT, VixLayouts.offset(VixLayouts.INFO, "numLinks")),
                        string(i.get(ADDRESS, VixLayouts.offset(VixLayouts.INFO, "uuid"))),
                        string(i.get(ADDRESS, VixLayouts.offset(VixLayouts.INFO, "parentFileNameHint"))));
            } finally {
                lib.fn.freeInfo.invokeExact(i);
            }
        }
    }

    private static Optional<String> string(MemorySegment s) {
        return s.equals(MemorySegment.NULL) ? Optional.empty() : Optional.of(VixDiskLib.cString(s));
    }

    public DiskInfo info() {
        return info;
    }

    public long capacity() {
        return info.capacity();
    }

    /** The transport mode VDDK chose at Open (GetTransportMode): san, hotadd, nbdssl, nbd, ... */
    public String transportMode() {
        return mode;
    }

    public String path() {
        return path;
    }

    /**
     * ReadAsync into {@code buffer} (whole sectors, from a shared or global arena: the worker and
     * VDDK touch it); the buffer must stay alive until the future completes.
     */
    public CompletableFuture<Void> readAsync(long offset, MemorySegment buffer) {
        return async("ReadAsync", offset, buffer, false);
    }

    /** WriteAsync of {@code buffer} (whole sectors); the buffer must stay alive until the future completes. */
    public CompletableFuture<Void> writeAsync(long offset, MemorySegment buffer) {
        return async("WriteAsync", offset, buffer, true);
    }

    /** Read, synchronously on the worker. */
    public CompletableFuture<Void> read(long offset, MemorySegment buffer) {
        long start = sectors(offset, buffer.byteSize());
        return call(() -> {
            lib.check(describe("Read", offset, buffer.byteSize()),
                    (long) lib.fn.read.invokeExact(handle, start, buffer.byteSize() / SECTOR_SIZE, buffer));
            return null;
        });
    }

    /** Write, synchronously on the worker. */
    public CompletableFuture<Void> write(long offset, MemorySegment buffer) {
        long start = sectors(offset, buffer.byteSize());
        return call(() -> {
            lib.check(describe("Write", offset, buffer.byteSize()),
                    (long) lib.fn.write.invokeExact(handle, start, buffer.byteSize() / SECTOR_SIZE, buffer));
            return null;
        });
    }

    /** Wait for every async request, then Flush (which VDDK documents as needing no pending I/O). */
    public CompletableFuture<Void> flush() {
        return call(() -> {
            lib.check("Wait", (long) lib.fn.waitAll.invokeExact(handle));
            lib.check("Flush", (long) lib.fn.flush.invokeExact(handle));
            return null;
        });
    }

    /**
     * QueryAllocatedBlocks over {@code [offset, offset + length)} in chunks of {@code chunkBytes}:
     * the allocated areas, clipped to the range. The range is widened to whole chunks for VDDK and
     * asked in slices of at most 524288 chunks.
     */
    public CompletableFuture<List<ByteExtent>> allocatedBlocks(long offset, long length, long chunkBytes) {
        long chunk = chunkBytes / SECTOR_SIZE;
        if (chunkBytes % SECTOR_SIZE != 0 || chunk < MIN_CHUNK_SECTORS || chunk > MAX_CHUNK_SECTORS || Long.bitCount(chunk) != 1) {
            throw new IllegalArgumentException("chunk must be a power of two of 64 KiB .. 64 MiB: " + chunkBytes);
        }
        if (offset < 0 || length <= 0 || offset + length > info.capacity()) {
            throw new IllegalArgumentException("range " + offset + "+" + length + " outside the disk of " + info.capacity());
        }
        return call(() -> {
            long capacitySectors = info.capacity() / SECTOR_SIZE;
            long end = Math.min(capacitySectors, ceil(offset + length, SECTOR_SIZE) / SECTOR_SIZE);
            List<ByteExtent> out = new ArrayList<>();
            for (long s = offset / SECTOR_SIZE / chunk * chunk; s < end; ) {
                long n = Math.min(Math.min(ceil(end, chunk), capacitySectors) - s, chunk * MAX_CHUNKS);
                queryOnce(s, n, chunk, offset, offset + length, out);
                s += n;
            }
            return out;
        });
    }

    private void queryOnce(long start, long count, long chunk, long from, long to, List<ByteExtent> out) throws Throwable {
        try (Arena call = Arena.ofConfined()) {
            MemorySegment listOut = call.allocate(ADDRESS);
            lib.check("QueryAllocatedBlocks", (long) lib.fn.queryAllocatedBlocks.invokeExact(handle, start, count, chunk, listOut));
            MemorySegment list = listOut.get(ADDRESS, 0).reinterpret(VixLayouts.BLOCK_LIST_BLOCKS);
            try {
                int n = list.get(JAVA_INT, VixLayouts.offset(VixLayouts.BLOCK_LIST_HEADER, "numBlocks"));
                MemorySegment blocks = list.reinterpret(VixLayouts.BLOCK_LIST_BLOCKS + n * VixLayouts.BLOCK.byteSize());
                for (int i = 0; i < n; i++) {
                    long base = VixLayouts.BLOCK_LIST_BLOCKS + i * VixLayouts.BLOCK.byteSize();
                    long b = blocks.get(JAVA_LONG, base + VixLayouts.offset(VixLayouts.BLOCK, "offset")) * SECTOR_SIZE;
                    long e = b + blocks.get(JAVA_LONG, base + VixLayouts.offset(VixLayouts.BLOCK, "length")) * SECTOR_SIZE;
                    b = Math.max(b, from);
                    e = Math.min(e, to);
                    if (e > b) {
                        if (!out.isEmpty() && out.getLast().end() == b) {
                            out.set(out.size() - 1, new ByteExtent(out.getLast().offset(), e - out.getLast().offset()));
                        } else {
                            out.add(new ByteExtent(b, e - b));
                        }
                    }
                }
            } finally {
                long ignored = (long) lib.fn.freeBlockList.invokeExact(list);
            }
        }
    }

    /** Wait for pending requests, Close the handle and stop the worker. */
    @Override
    public void close() {
        CompletableFuture<Void> done;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            done = CompletableFuture.runAsync(() -> {
                try {
                    long ignored = (long) lib.fn.waitAll.invokeExact(handle);
                    lib.check("Close", (long) lib.fn.close.invokeExact(handle));
                } catch (Throwable t) {
                    throw VixDiskLib.rethrow(t instanceof VixException v ? new IllegalStateException(v.getMessage(), v) : t);
                }
            }, worker);
            worker.shutdown();
        }
        try {
            done.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
        }
    }

    private CompletableFuture<Void> async(String operation, long offset, MemorySegment buffer, boolean write) {
        long start = sectors(offset, buffer.byteSize());
        long count = buffer.byteSize() / SECTOR_SIZE;
        CompletableFuture<Void> result = new CompletableFuture<>();
        String what = describe(operation, offset, buffer.byteSize());
        try {
            worker.execute(() -> {
                Completions.Pending pending = new Completions.Pending(lib, what, result);
                long id = Completions.register(pending);
                try {
                    MemorySegment cbData = MemorySegment.ofAddress(id);
                    long err = write
                            ? (long) lib.fn.writeAsync.invokeExact(handle, start, count, buffer, Completions.STUB, cbData)
                            : (long) lib.fn.readAsync.invokeExact(handle, start, count, buffer, Completions.STUB, cbData);
                    if (err == VIX_ASYNC) {
                        pending.submitted();
                    } else {
                        // Refused at submission: VDDK will not call back for it.
                        Completions.forget(id);
                        result.completeExceptionally(err == 0 ? new IllegalStateException(what + " answered VIX_OK, not VIX_ASYNC")
                                : lib.error(what, err));
                    }
                } catch (Throwable t) {
                    Completions.forget(id);
                    result.completeExceptionally(t);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            result.completeExceptionally(new IllegalStateException("VDDK disk " + path + " is closed"));
        }
        return result;
    }

    @FunctionalInterface
    private interface NativeCall<T> {
        T run() throws Throwable;
    }

    private <T> CompletableFuture<T> call(NativeCall<T> body) {
        CompletableFuture<T> result = new CompletableFuture<>();
        try {
            worker.execute(() -> {
                try {
                    result.complete(body.run());
                } catch (Throwable t) {
                    result.completeExceptionally(t);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            result.completeExceptionally(new IllegalStateException("VDDK disk " + path + " is closed"));
        }
        return result;
    }

    private long sectors(long offset, long length) {
        if (offset % SECTOR_SIZE != 0 || length % SECTOR_SIZE != 0 || length <= 0) {
            throw new IllegalArgumentException("VDDK I/O is in whole sectors of 512 bytes: offset " + offset + " length " + length);
        }
        if (offset < 0 || offset + length > info.capacity()) {
            throw new IllegalArgumentException("range " + offset + "+" + length + " outside the disk of " + info.capacity());
        }
        return offset / SECTOR_SIZE;
    }

    private String describe(String operation, long offset, long length) {
        return operation + " of " + length + " bytes at offset " + offset + " of " + path;
    }

    private static long ceil(long v, long unit) {
        return (v + unit - 1) / unit * unit;
    }

}
