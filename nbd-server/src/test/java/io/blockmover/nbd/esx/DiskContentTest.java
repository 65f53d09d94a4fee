package io.blockmover.nbd.esx;

import com.github.luben.zstd.Zstd;
import io.blockmover.nbd.server.Extent;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DiskContentTest {

    private static final long GIB = 1L << 30;

    private static byte[] bytes(DiskContent c, long offset, int length) {
        ByteBuf buf = Unpooled.buffer(length);
        try {
            c.read(offset, length, buf);
            assertEquals(length, buf.readableBytes());
            return ByteBufUtil.getBytes(buf);
        } finally {
            buf.release();
        }
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherBytes() {
        DiskContent a = new DiskContent(42, 1, Profile.RANDOM, GIB);
        DiskContent b = new DiskContent(42, 1, Profile.RANDOM, GIB);
        DiskContent otherSeed = new DiskContent(43, 1, Profile.RANDOM, GIB);
        DiskContent otherDisk = new DiskContent(42, 2, Profile.RANDOM, GIB);
        assertArrayEquals(bytes(a, 12345 * 4096L, 200_000), bytes(b, 12345 * 4096L, 200_000));
        assertNotEquals(ByteBufUtil.hexDump(bytes(a, 0, 64)), ByteBufUtil.hexDump(bytes(otherSeed, 0, 64)));
        assertNotEquals(ByteBufUtil.hexDump(bytes(a, 0, 64)), ByteBufUtil.hexDump(bytes(otherDisk, 0, 64)));
    }

    @Test
    void anyUnalignedSliceEqualsTheSameBytesOfAnAlignedRead() {
        for (Profile p : List.of(Profile.RANDOM, Profile.TEXT, Profile.DUPLICATES, Profile.MIXED)) {
            DiskContent c = new DiskContent(7, 3, p, 64L << 20);
            byte[] whole = bytes(c, 0, 3 << 20);
            for (int[] r : new int[][] {{1, 1}, {3, 17}, {65_535, 3}, {65_530, 70_000}, {100_001, 7}, {1_048_575, 131_073}}) {
                byte[] slice = bytes(c, r[0], r[1]);
                byte[] expected = java.util.Arrays.copyOfRange(whole, r[0], r[0] + r[1]);
                assertArrayEquals(expected, slice, p + " slice at " + r[0] + "+" + r[1]);
            }
        }
    }

    @Test
    void mixedProfileHitsItsProportions() {
        DiskContent c = new DiskContent(42, 1, Profile.MIXED, 1L << 40);
        long runs = 200_000;
        Map<GrainClass, Long> counts = new EnumMap<>(GrainClass.class);
        for (long run = 0; run < runs; run++) {
            GrainClass cls = c.classOf(run * DiskContent.RUN_GRAINS);
            for (int g = 1; g < DiskContent.RUN_GRAINS; g += 5) {
                assertEquals(cls, c.classOf(run * DiskContent.RUN_GRAINS + g), "a run has one class");
            }
            counts.merge(cls, 1L, Long::sum);
        }
        for (GrainClass cls : GrainClass.values()) {
            double expected = (double) Profile.MIXED.weight(cls) / Profile.MIXED.total();
            double actual = counts.getOrDefault(cls, 0L) / (double) runs;
            assertEquals(expected, actual, 0.01, cls + " share");
        }
    }

    @Test
    void customProfileParsesAndSingleClassProfilesAreExclusive() {
        Profile p = Profile.parse("hole=1,random=3");
        assertEquals(1, p.hole());
        assertEquals(3, p.random());
        assertEquals(0, p.text());
        DiskContent c = new DiskContent(1, 1, Profile.TEXT, GIB);
        for (long g = 0; g < 1000; g++) {
            assertEquals(GrainClass.TEXT, c.classOf(g * 13));
        }
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class, () -> Profile.parse("lots"));
        assertTrue(e.getMessage().contains("unknown profile 'lots'"), e.getMessage());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> Profile.parse("hole=0"));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> Profile.parse("cheese=1"));
    }

    @Test
    void holesAndZerosReadAsZerosAndAllocationMatchesClasses() {
        DiskContent c = new DiskContent(42, 5, Profile.MIXED, 256L << 20);
        List<Extent> map = c.allocation(0, c.capacity());
        long pos = 0;
        int previous = -1;
        for (Extent e : map) {
            assertNotEquals(previous, e.flags(), "adjacent extents are merged");
            previous = e.flags();
            for (long off = pos; off < pos + e.length(); off += Grains.SIZE) {
                assertEquals(e.flags(), DiskContent.allocationFlags(c.classOf(Grains.indexOf(off))));
                if ((e.flags() & Extent.ZERO) != 0) {
                    byte[] grain = bytes(c, off, Grains.SIZE);
                    assertArrayEquals(new byte[Grains.SIZE], grain, "zero grain at " + off);
                }
            }
            pos += e.length();
        }
        assertEquals(c.capacity(), pos);
        assertTrue(map.size() > 20, "a mixed disk has many extents: " + map.size());
    }

    @Test
    void randomIsIncompressibleTextCompressesTwoToFourTimes() {
        DiskContent text = new DiskContent(9, 1, Profile.TEXT, 64L << 20);
        DiskContent random = new DiskContent(9, 1, Profile.RANDOM, 64L << 20);
        byte[] t = bytes(text, 0, 4 << 20);
        byte[] r = bytes(random, 0, 4 << 20);
        double textRatio = (double) t.length / Zstd.compress(t, 3).length;
        double randomRatio = (double) r.length / Zstd.compress(r, 3).length;
        assertTrue(textRatio >= 2.0 && textRatio <= 4.0, "text zstd ratio " + textRatio);
        assertTrue(randomRatio < 1.01, "random zstd ratio " + randomRatio);
        String sample = new String(t, 0, 200, java.nio.charset.StandardCharsets.ISO_8859_1);
        assertTrue(sample.chars().allMatch(ch -> ch == ' ' || ch == ',' || ch == '.' || ch == '\n'
                || (ch >= 'a' && ch <= 'z')), "text looks like words: " + sample);
    }

    @Test
    void randomGrainsNeverRepeatThoughTheyShareOnePool() {
        // 4096 grains of 64 KiB draw their words from one 1 MiB pool, so their windows overlap
        // many times over; the per-grain Weyl term must still make every grain distinct.
        DiskContent c = new DiskContent(11, 1, Profile.RANDOM, 256L << 20);
        Set<Long> digests = new HashSet<>();
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        for (long g = 0; g < c.grainCount(); g++) {
            byte[] grain = bytes(c, Grains.offsetOf(g), Grains.SIZE);
            crc.reset();
            crc.update(grain, 0, Grains.SIZE / 2);
            long first = crc.getValue();
            crc.reset();
            crc.update(grain, Grains.SIZE / 2, Grains.SIZE / 2);
            assertTrue(digests.add(first << 32 | crc.getValue()), "grain " + g + " repeats an earlier one");
        }
    }

    @Test
    void duplicateGrainsRepeatWithinAndAcrossDisks() {
        DiskContent a = new DiskContent(42, 1, Profile.DUPLICATES, 1L << 30);
        DiskContent b = new DiskContent(42, 2, Profile.DUPLICATES, 1L << 30);
        Set<String> seenA = new HashSet<>();
        int repeatsWithinA = 0;
        for (long g = 0; g < 2048; g++) {
            if (!seenA.add(ByteBufUtil.hexDump(bytes(a, Grains.offsetOf(g), 32)))) {
                repeatsWithinA++;
            }
        }
        int sharedWithB = 0;
        for (long g = 0; g < 2048; g++) {
            if (seenA.contains(ByteBufUtil.hexDump(bytes(b, Grains.offsetOf(g), 32)))) {
                sharedWithB++;
            }
        }
        assertTrue(seenA.size() <= DiskContent.POOL_RUNS * DiskContent.RUN_GRAINS, "pool bounds distinct grains");
        assertTrue(repeatsWithinA > 1000, "repeats within a disk: " + repeatsWithinA);
        assertTrue(sharedWithB > 1000, "grains shared across disks: " + sharedWithB);
        // a duplicate grain is a whole-grain copy, not just a shared prefix
        long g0 = DiskContent.RUN_GRAINS * 3L;
        for (long g = 0; g < 2048; g++) {
            if (g != g0 && java.util.Arrays.equals(bytes(a, Grains.offsetOf(g), 32), bytes(a, Grains.offsetOf(g0), 32))) {
                assertArrayEquals(bytes(a, Grains.offsetOf(g0), Grains.SIZE), bytes(a, Grains.offsetOf(g), Grains.SIZE));
                return;
            }
        }
        throw new AssertionError("grain " + g0 + " has no duplicate among the first 2048 grains");
    }
}
