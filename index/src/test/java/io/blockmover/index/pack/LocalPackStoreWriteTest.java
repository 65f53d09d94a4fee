package io.blockmover.index.pack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Packs written through the store read back byte for byte, whichever way they are written:
 * buffered, O_DIRECT through the aligned staging buffer (where the test's filesystem takes it),
 * and the staging logic itself on a plain channel, so it is checked on any filesystem. Parts of
 * odd sizes from heap and direct buffers cross staging boundaries; a sync in the middle pads
 * and trims the last block, and appends after it rewrite that block.
 */
class LocalPackStoreWriteTest {
    @TempDir
    Path dir;

    @Test
    void bufferedPacksReadBackExactly() throws Exception {
        try (LocalPackStore store = new LocalPackStore(dir.resolve("packs"), 8, false)) {
            roundTrip(store, 1);
        }
    }

    /** 40 MiB: background syncs start at each 16 MiB while appends go on; the sealed file is exact. */
    @Test
    void bufferedPacksStayExactWhileWriteBackRunsBehindTheAppends() throws Exception {
        try (LocalPackStore store = new LocalPackStore(dir.resolve("packs"), 8, false)) {
            MessageDigest expected = MessageDigest.getInstance("SHA-256");
            SplittableRandom r = new SplittableRandom(40);
            long size = 0;
            try (PackStore.Output out = store.create(40)) {
                ByteBuffer part = ByteBuffer.allocateDirect(1 << 20);
                byte[] bytes = new byte[1 << 20];
                while (size < (40L << 20)) {
                    int n = 1 + r.nextInt(bytes.length);
                    r.nextBytes(bytes);
                    expected.update(bytes, 0, n);
                    part.clear().put(bytes, 0, n).flip();
                    assertEquals(size, out.append(part));
                    size += n;
                }
                out.sync();
            }
            MessageDigest actual = MessageDigest.getInstance("SHA-256");
            try (var in = Files.newInputStream(store.pathOf(40))) {
                byte[] b = new byte[1 << 20];
                for (int n; (n = in.read(b)) > 0; ) {
                    actual.update(b, 0, n);
                }
            }
            assertEquals(size, Files.size(store.pathOf(40)));
            assertArrayEquals(expected.digest(), actual.digest());
        }
    }

    @Test
    void directPacksReadBackExactly() throws Exception {
        try (LocalPackStore store = new LocalPackStore(dir.resolve("packs"), 8, true)) {
            roundTrip(store, 2);
            System.out.println("pack store on " + Files.getFileStore(dir).type() + " writes direct: " + store.writesDirect());
        }
    }

    @Test
    void stagedAlignedWritesKeepEveryByteOnAnyFilesystem() throws Exception {
        Path p = dir.resolve("staged.pack");
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        try (PackStore.Output out = new LocalPackStore.DirectFileOutput(p,
                FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), 4096)) {
            write(out, expected, 3);
        }
        assertArrayEquals(expected.toByteArray(), Files.readAllBytes(p));
    }

    private void roundTrip(LocalPackStore store, long packId) throws Exception {
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        try (PackStore.Output out = store.create(packId)) {
            write(out, expected, packId);
        }
        byte[] want = expected.toByteArray();
        assertArrayEquals(want, Files.readAllBytes(store.pathOf(packId)), "file content");
        ByteBuffer back = ByteBuffer.allocate(want.length);
        assertEquals(want.length, store.read(packId, 0, back));
        assertArrayEquals(want, back.array(), "read through the store");
        ByteBuffer middle = ByteBuffer.allocateDirect(1000);
        assertEquals(1000, store.read(packId, 1_500_001, middle));
        assertEquals(ByteBuffer.wrap(want, 1_500_001, 1000), middle.flip());
    }

    /** About 3.3 MiB in parts of 1 byte to 1.2 MiB, with a sync after the first ~1.1 MiB. */
    private static void write(PackStore.Output out, ByteArrayOutputStream expected, long seed) throws Exception {
        SplittableRandom r = new SplittableRandom(seed);
        boolean synced = false;
        while (expected.size() < 3_300_000) {
            int n = switch (r.nextInt(4)) {
                case 0 -> 1 + r.nextInt(64);
                case 1 -> 56;
                case 2 -> 1 + r.nextInt(70_000);
                default -> 1 + r.nextInt(1_200_000);
            };
            byte[] bytes = new byte[n];
            r.nextBytes(bytes);
            ByteBuffer part = r.nextBoolean() ? ByteBuffer.wrap(bytes) : ByteBuffer.allocateDirect(n).put(bytes).flip();
            byte[] tail = {(byte) n, 7, 9};
            ByteBuffer second = ByteBuffer.wrap(tail);
            long at = out.append(part, second);
            assertEquals(expected.size(), at, "offset of the appended record");
            expected.write(bytes);
            expected.write(tail);
            assertEquals(expected.size(), out.size());
            if (!synced && expected.size() > 1_100_000) {
                out.sync();
                synced = true;
            }
        }
        out.sync();
    }
}
