package io.blockmover.nativebridge.vddk;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Thousands of connect/open/read/close/disconnect cycles leave the process's resident memory
 * where it was: every arena, info struct, block list, error text and fixture handle is freed.
 * Measured as VmRSS from /proc, because native allocations of C code are invisible to NMT; the
 * module's test JVM pre-touches a fixed heap, so the Java heap cannot move VmRSS.
 */
class NativeMemoryTest {
    private static final int WARM_UP = 300;
    private static final int CYCLES = 1000;

    @Test
    void noNativeGrowthOverThousandsOfCycles(@TempDir Path dir) throws Throwable {
        Path config = new FixtureConfig().disk("vm-1", "snapshot-1", "[ds] vm1/vm1.vmdk", "disk").write(dir.resolve("fixture.conf"));
        try (NbdkitProcess nbdkit = NbdkitProcess.start(dir, "--filter=error", "pattern", "size=16M", "error=EIO",
                "error-pread-rate=100%", "error-file=" + dir.resolve("fail-now"));
             VixDiskLib lib = VixDiskLib.init(FixtureConfig.fixtureDir(), Optional.of(config));
             AlignedBuffers buffers = new AlignedBuffers(4096, 8)) {
            ConnectSpec spec = new ConnectSpec("127.0.0.1", 443, nbdkit.port, "vm-1", Optional.empty(), Optional.empty(), Optional.empty());
            for (int i = 0; i < WARM_UP; i++) {
                cycle(lib, spec, buffers, i, dir);
            }
            // Three equal rounds after the warm-up: bounded caches (glibc's thread stacks and arenas,
            // the Java heap, the JIT's compiler arenas) fill during the warm-up and the first round,
            // and can still move a later round by megabytes on a loaded machine; a leak grows in
            // every round, so the smaller growth of the last two rounds is the one asserted.
            long[] rss = new long[4];
            long[] malloc = new long[4];
            for (int round = 0; round < 4; round++) {
                System.gc();
                rss[round] = rssKiB();
                malloc[round] = mallocInUse();
                for (int i = 0; round < 3 && i < CYCLES; i++) {
                    cycle(lib, spec, buffers, i, dir);
                }
            }
            System.out.printf("VmRSS growth per %d cycles: %d, %d, %d KiB; malloc in use: %d, %d, %d bytes%n", CYCLES,
                    rss[1] - rss[0], rss[2] - rss[1], rss[3] - rss[2], malloc[1] - malloc[0], malloc[2] - malloc[1],
                    malloc[3] - malloc[2]);
            // A leak of one 64 KiB buffer per cycle would be 64 MiB a round, of a fixture handle with
            // its libnbd handle ~10 MiB. The malloc figure is printed, not asserted: the JIT's
            // compiler arenas come and go in it by megabytes.
            long growth = Math.min(rss[2] - rss[1], rss[3] - rss[2]);
            assertTrue(growth < 4 * 1024, "resident memory grew by at least " + growth + " KiB in each of two rounds");
            assertTrue(buffers.allocated() <= 8, "buffers allocated: " + buffers.allocated());
            assertEquals(0, Completions.outstanding());
        }
    }

    /** One backup's worth of calls on a small scale, one in ten of them failing with a VixError. */
    private static void cycle(VixDiskLib lib, ConnectSpec spec, AlignedBuffers buffers, int i, Path dir) throws Exception {
        boolean fail = i % 10 == 0;
        if (fail) {
            Files.writeString(dir.resolve("fail-now"), "");
        }
        try (VixConnection c = lib.connect(spec, Optional.of("snapshot-1"), "nbdssl:nbd", true);
             VixDisk disk = c.open("[ds] vm1/vm1.vmdk", VixConnection.OPEN_READ_ONLY)) {
            disk.allocatedBlocks(0, 16 << 20, 1 << 20).get();
            List<AlignedBuffers.Buffer> held = new ArrayList<>();
            List<CompletableFuture<Void>> reads = new ArrayList<>();
            for (int k = 0; k < 4; k++) {
                AlignedBuffers.Buffer b = buffers.acquire(64 << 10);
                held.add(b);
                reads.add(disk.readAsync(k * (64L << 10), b.segment()));
            }
            for (CompletableFuture<Void> r : reads) {
                try {
                    r.join();
                } catch (RuntimeException e) {
                    if (!fail) {
                        throw e;
                    }
                }
            }
            held.forEach(AlignedBuffers.Buffer::close);
        } finally {
            Files.deleteIfExists(dir.resolve("fail-now"));
        }
    }

    /** glibc's mallinfo2(): bytes in use in the malloc arenas plus mmap'd chunks (C code's heap, ours and VDDK's). */
    private static long mallocInUse() throws Throwable {
        Linker linker = Linker.nativeLinker();
        MethodHandle mallinfo2 = linker.downcallHandle(linker.defaultLookup().findOrThrow("mallinfo2"),
                FunctionDescriptor.of(MemoryLayout.structLayout(MemoryLayout.sequenceLayout(10, ValueLayout.JAVA_LONG))));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = (MemorySegment) mallinfo2.invokeExact((SegmentAllocator) arena);
            return info.getAtIndex(ValueLayout.JAVA_LONG, 7) + info.getAtIndex(ValueLayout.JAVA_LONG, 4); // uordblks + hblkhd
        }
    }

    private static long rssKiB() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
