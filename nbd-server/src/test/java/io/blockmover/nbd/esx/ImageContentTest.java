package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.Extent;
import io.blockmover.nbd.testing.Peers;
import io.blockmover.nbd.units.ByteRange;

import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A raw image file as a VM disk of the emulated host: content, holes, overlay writes, CBT, NBD. */
class ImageContentTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    /** 6 MiB: 2 MiB random, 2 MiB never written (a hole), 1 MiB random, 1 MiB of explicit zeros. */
    private Path image(byte[] expected) throws Exception {
        Path file = dir.resolve("ref disk.raw");
        Random r = new Random(5);
        byte[] data = new byte[2 * MIB];
        r.nextBytes(data);
        System.arraycopy(data, 0, expected, 0, data.length);
        byte[] tail = new byte[MIB];
        r.nextBytes(tail);
        System.arraycopy(tail, 0, expected, 4 * MIB, MIB);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(6L * MIB);
            f.write(data);
            f.seek(4L * MIB);
            f.write(tail);
            f.write(new byte[MIB]);
        }
        return file;
    }

    @Test
    void anImageIsServedExactlyWithItsZerosAsHolesAndWritesInTheOverlay() throws Exception {
        byte[] expected = new byte[6 * MIB];
        Path file = image(expected);
        byte[] original = Files.readAllBytes(file);
        EsxHost host = new EsxHost(1);
        try (ImageContent content = ImageContent.open(file)) {
            VirtualMachine vm = host.addImageVm("ref-disk", content);
            vm.enableCbt();
            VirtualDisk disk = vm.disks().getFirst();
            assertEquals(6L * MIB, disk.capacity());
            assertArrayEquals(expected, Bytes.of(disk::read, 0, 6 * MIB));
            assertEquals(List.of(new Extent(2L * MIB, 0), new Extent(2L * MIB, Extent.HOLE | Extent.ZERO),
                    new Extent(MIB, 0), new Extent(MIB, Extent.HOLE | Extent.ZERO)), disk.extents(0, 6L * MIB));

            Snapshot s1 = vm.createSnapshot("s1");
            byte[] patch = new byte[4096];
            java.util.Arrays.fill(patch, (byte) 0x7e);
            disk.write(3L * MIB, Unpooled.wrappedBuffer(patch));
            System.arraycopy(patch, 0, expected, 3 * MIB, patch.length);
            assertArrayEquals(expected, Bytes.of(disk::read, 0, 6 * MIB), "the write is visible on the live disk");
            assertEquals(List.of(new ByteRange(3L * MIB, 64 << 10)),
                    disk.changedAreas(s1.disks().getFirst().changeId().orElseThrow().toString(), 0).areas());
            assertArrayEquals(original, Files.readAllBytes(file), "the image file itself is never written");

            // Over NBD, through a peer nobody here wrote.
            try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(1, 0, 1, MIB, Profile.EMPTY, true)))) {
                sim.host().addImageVm("ref-disk", content);
                Path copy = dir.resolve("copy.raw");
                Peers.run(Duration.ofSeconds(60), "nbdcopy", "nbd://127.0.0.1:" + sim.nbdAddress().getPort() + "/ref-disk/disk-2000",
                        copy.toString()).requireSuccess();
                assertEquals(sha256(original), sha256(Files.readAllBytes(copy)));
            }
        }
    }

    @Test
    void zeroGrainsOfTheImageAreReportedAsHoles() throws Exception {
        byte[] expected = new byte[6 * MIB];
        try (ImageContent content = ImageContent.open(image(expected))) {
            assertTrue(content.path().getFileName().toString().startsWith("ref disk"));
            assertEquals(0, content.allocationFlags(0));
            assertEquals(Extent.HOLE | Extent.ZERO, content.allocationFlags(Grains.indexOf(5L * MIB)));
        }
    }

    private static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }
}
