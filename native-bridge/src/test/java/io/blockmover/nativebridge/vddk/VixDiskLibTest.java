package io.blockmover.nativebridge.vddk;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bridge against the VDDK test fixture (real C, loaded through FFM), which serves nbdkit
 * exports: a writable sparse disk ({@code memory}) and one whose every read fails ({@code error} filter).
 */
class VixDiskLibTest {
    private static final String VM = "vm-7";
    private static final String DISK = "[datastore1] vm07/vm07.vmdk";
    private static final String BAD_DISK = "[datastore1] vm07/vm07_1.vmdk";
    private static final long SIZE = 64L << 20;

    @TempDir
    static Path dir;
    private static NbdkitProcess memory;
    private static NbdkitProcess failing;
    private static Path config;
    private static VixDiskLib lib;

    @BeforeAll
    static void start() throws Exception {
        memory = NbdkitProcess.start(dir, "memory", "size=" + SIZE);
        failing = NbdkitProcess.start(dir, "--filter=error", "pattern", "size=" + SIZE, "error=EIO", "error-pread-rate=100%");
        config = dir.resolve("fixture.conf");
        writeConfig(null);
        lib = VixDiskLib.init(FixtureConfig.fixtureDir(), Optional.of(config));
    }

    @AfterAll
    static void stop() throws Exception {
        if (lib != null) {
            lib.close();
        }
        memory.close();
        failing.close();
    }

    private static void writeConfig(String refused) throws Exception {
        FixtureConfig c = new FixtureConfig().disk(VM, "-", DISK, "live").disk(VM, "snapshot-1", DISK, "snap")
                .disk(VM, "-", BAD_DISK, "bad");
        if (refused != null) {
            c.refuse(refused);
        }
        c.write(config);
    }

    private static ConnectSpec spec(int port) {
        return new ConnectSpec("127.0.0.1", 443, port, VM, Optional.empty(), Optional.of("backup"), Optional.of("secret"));
    }

    @Test
    void listsTheModes() {
        assertEquals(List.of("file", "san", "hotadd", "nbdssl", "nbd"), lib.transportModes());
    }

    @Test
    void writesReadsBackAndReportsAllocatedBlocks() throws Exception {
        byte[] a = new byte[1 << 20];
        byte[] b = new byte[64 << 10];
        new Random(1).nextBytes(a);
        new Random(2).nextBytes(b);
        try (VixConnection c = lib.connect(spec(memory.port), Optional.empty(), "nbd", false);
             VixDisk disk = c.open(DISK, 0);
             Arena arena = Arena.ofShared()) {
            assertEquals(SIZE, disk.capacity());
            assertEquals("nbd", disk.transportMode());
            assertEquals(512, disk.info().logicalSectorSize());
            disk.write(4L << 20, arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_BYTE, a)).get();
            disk.writeAsync(40L << 20, arena.allocateFrom(java.lang.foreign.ValueLayout.JAVA_BYTE, b)).get();
            disk.flush().get();

            // Pipelined: 16 ReadAsync of 64 KiB in flight at once over the written MiB.
            MemorySegment into = arena.allocate(a.length, 4096);
            List<CompletableFuture<Void>> reads = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                reads.add(disk.readAsync((4L << 20) + i * 65536L, into.asSlice(i * 65536L, 65536)));
            }
            CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)).get();
            assertArrayEquals(a, into.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            MemorySegment sync = arena.allocate(b.length, 4096);
            disk.read(40L << 20, sync).get();
            assertArrayEquals(b, sync.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));

            assertEquals(List.of(new ByteExtent(4L << 20, 1L << 20), new ByteExtent(40L << 20, 64L << 10)),
                    disk.allocatedBlocks(0, SIZE, 64 << 10).get());
            // A range that starts inside a chunk is clipped to what was asked.
            assertEquals(List.of(new ByteExtent((4L << 20) + 512, (1L << 20) - 512)),
                    disk.allocatedBlocks((4L << 20) + 512, 8L << 20, 64 << 10).get());
        }
    }

    @Test
    void refusedModesFailOverAndAllRefusedIsAVixError() throws Exception {
        try {
            writeConfig("san:hotadd");
            try (VixConnection c = lib.connect(spec(memory.port), Optional.of("snapshot-1"), "san:hotadd:nbdssl:nbd", true);
                 VixDisk disk = c.open(DISK, VixConnection.OPEN_READ_ONLY)) {
                assertEquals("nbdssl", disk.transportMode());
            }
            writeConfig("san:hotadd:nbdssl:nbd");
            try (VixConnection c = lib.connect(spec(memory.port), Optional.of("snapshot-1"), "san:hotadd:nbdssl:nbd", true)) {
                VixException e = assertThrows(VixException.class, () -> c.open(DISK, VixConnection.OPEN_READ_ONLY));
                assertTrue(e.is(VixErrorCode.FILE_ACCESS_ERROR), e.getMessage());
                assertEquals("Cannot access file", e.text());
            }
        } finally {
            writeConfig(null);
        }
        String log = Files.readString(logFile());
        assertTrue(log.contains("WARN vddk - vddk-test-fixture: cannot use mode san to access " + DISK
                + ": refused by the fixture's configuration"), log);
    }

    @Test
    void aReadErrorIsTypedWithVddksCodeAndText() throws Exception {
        try (VixConnection c = lib.connect(spec(failing.port), Optional.empty(), "nbd", true);
             VixDisk disk = c.open(BAD_DISK, VixConnection.OPEN_READ_ONLY);
             Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(65536, 4096);
            for (CompletableFuture<Void> read : List.of(disk.read(1 << 20, buf), disk.readAsync(2 << 20, buf))) {
                ExecutionException e = assertThrows(ExecutionException.class, read::get);
                VixException v = assertInstanceOf(VixException.class, e.getCause());
                assertTrue(v.is(VixErrorCode.FILE_ERROR), v.getMessage());
                assertEquals("A file access error occurred on the host or guest operating system", v.text());
                assertTrue(v.getMessage().contains("VIX_E_FILE_ERROR (7)"), v.getMessage());
            }
        }
    }

    @Test
    void unknownDiskAndOutOfRangeAreRefused() throws Exception {
        try (VixConnection c = lib.connect(spec(memory.port), Optional.of("snapshot-9"), "nbd", true)) {
            VixException e = assertThrows(VixException.class, () -> c.open(DISK, 0));
            assertTrue(e.is(VixErrorCode.FILE_NOT_FOUND), e.getMessage());
        }
        try (VixConnection c = lib.connect(spec(memory.port), Optional.empty(), "nbd", true);
             VixDisk disk = c.open(DISK, 0);
             Arena arena = Arena.ofShared()) {
            assertThrows(IllegalArgumentException.class, () -> disk.read(SIZE, arena.allocate(512)));
            assertThrows(IllegalArgumentException.class, () -> disk.read(100, arena.allocate(512)));
        }
    }

    @Test
    void vddkLogLinesWithArgumentsReachSlf4j() throws Exception {
        // InitEx logged "initialised for API %u.%u with %d disks from config file %s" through the trampoline.
        String log = Files.readString(logFile());
        assertTrue(log.contains("INFO vddk - vddk-test-fixture: initialised for API 7.0 with 3 disks from config file "
                + config.toAbsolutePath()), log);
        try (VixConnection c = lib.connect(spec(memory.port), Optional.empty(), "hotadd:nbd", true);
             VixDisk disk = c.open(DISK, 0)) {
            assertEquals("hotadd", disk.transportMode());
        }
        log = Files.readString(logFile());
        assertTrue(log.contains("INFO vddk - vddk-test-fixture: opened " + DISK + " (export live, 131072 sectors) with transport mode hotadd"),
                log);
    }

    @Test
    void prepareAndEndAccessAndCleanup() throws Exception {
        lib.prepareForAccess(spec(memory.port), "blockmover");
        lib.endAccess(spec(memory.port), "blockmover");
        assertEquals(new VixDiskLib.CleanupResult(0, 0), lib.cleanup(spec(memory.port)));
        assertThrows(IllegalArgumentException.class, () -> lib.prepareForAccess(spec(memory.port), "x".repeat(51)));
    }

    static Path logFile() {
        return Path.of(System.getProperty("org.slf4j.simpleLogger.logFile"));
    }
}
