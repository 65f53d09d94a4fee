package io.blockmover.index;

import static org.junit.jupiter.api.Assertions.*;

import io.blockmover.index.TestData.Kind;
import io.blockmover.index.chunk.ChunkCodec;
import io.blockmover.index.chunk.Compression;
import io.blockmover.index.maintenance.Verifier;
import io.blockmover.index.format.ChunkId;
import io.blockmover.index.format.PackFormat;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.pack.PackRecords;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The codec as a repository setting: recorded in the config and in every record, all codecs read by any repository. */
class CompressionCodecTest {
    static final int CHUNK = 64 << 10;

    @TempDir
    Path dir;

    @Test
    void eachRecordNamesItsCodecAndAnyCodecReadsIt() {
        byte[] text = TestData.bytes(Kind.TEXT, 3, CHUNK);
        byte[] random = TestData.bytes(Kind.RANDOM, 4, CHUNK);
        try (ChunkCodec lz4 = new ChunkCodec(CHUNK, Compression.lz4(), null);
             ChunkCodec auto = new ChunkCodec(CHUNK, Compression.auto(3), null);
             ChunkCodec zstd = new ChunkCodec(CHUNK, Compression.zstd(1), null)) {
            // LZ4 alone; auto takes LZ4 when compression-bound, zstd otherwise; random data stays raw with every codec.
            assertEquals(PackFormat.FLAG_LZ4, flagsOf(lz4, text, false));
            assertEquals(PackFormat.FLAG_LZ4, flagsOf(lz4, text, true));
            assertEquals(PackFormat.FLAG_LZ4, flagsOf(auto, text, true));
            assertEquals(PackFormat.FLAG_ZSTD, flagsOf(auto, text, false));
            assertEquals(PackFormat.FLAG_ZSTD, flagsOf(zstd, text, true), "zstd:N ignores the hint");
            assertEquals(0, flagsOf(lz4, random, false));
            assertEquals(0, flagsOf(auto, random, true));
            // A reader needs no setting: the zstd codec decodes LZ4 records and the LZ4 codec zstd ones.
            for (ChunkCodec writer : new ChunkCodec[] {lz4, auto, zstd}) {
                for (boolean cpuBound : new boolean[] {false, true}) {
                    ChunkId id = writer.digest(ByteBuffer.wrap(text));
                    ByteBuffer record = whole(PackRecords.frameChunk(id, writer.encode(id, ByteBuffer.wrap(text), cpuBound)));
                    for (ChunkCodec reader : new ChunkCodec[] {zstd, lz4}) {
                        ByteBuffer out = ByteBuffer.allocate(CHUNK);
                        assertEquals(CHUNK, reader.decode(PackRecords.openChunk(record.duplicate(), id, CHUNK), id, out));
                        assertArrayEquals(text, out.array());
                        ByteBuffer direct = ByteBuffer.allocateDirect(CHUNK);
                        reader.decode(PackRecords.openChunk(record.duplicate(), id, CHUNK), id, direct);
                        assertEquals(-1, direct.flip().mismatch(ByteBuffer.wrap(text)), "equal");
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"lz4", "zstd:3", "auto:1", "auto:3"})
    void repositoryKeepsItsCodecAndRestoresExactly(String codec) throws Exception {
        Path root = dir.resolve("r");
        long capacity = 64L * CHUNK + 777;
        long id;
        try (Repository repo = Repository.init(root, InitOptions.defaults().withChunkSize(CHUNK).withPackTargetSize(1 << 20)
                .withCompression(Compression.parse(codec)))) {
            id = BackupRoundTripTest.write(repo, "vm", capacity, 5, 4);
        }
        String config = Files.readString(root.resolve("config"));
        Compression c = Compression.parse(codec);
        assertTrue(config.contains("compression=" + c.name() + "\n") && config.contains("compressionLevel=" + c.level() + "\n"), config);
        try (Repository repo = Repository.open(root, null)) {
            assertEquals(c, repo.config().compression());
            BackupRoundTripTest.assertRestores(repo, id, "disk0", capacity, 5);
            assertTrue(new Verifier(repo).run(2).ok());
        }
    }

    /** The config as builds before the codec setting wrote it (zstd, a level): such repositories open and restore. */
    @Test
    void repositoriesOfEarlierBuildsStillRead() throws Exception {
        Path root = dir.resolve("old");
        long capacity = 32L * CHUNK;
        long id;
        String repoId;
        // Builds before sub-chunk dedup wrote format 2, with the index's four column families.
        try (Repository repo = Repository.init(root, InitOptions.defaults().withChunkSize(CHUNK).withSubchunkDedup(false))) {
            id = BackupRoundTripTest.write(repo, "vm", capacity, 9, 2);
            repoId = repo.config().repoId();
        }
        Files.writeString(root.resolve("config"), String.join("\n", "format=blockmover-repository", "formatVersion=2",
                "repoId=" + repoId, "chunkSize=" + CHUNK, "digest=sha256", "compression=zstd", "compressionLevel=1",
                "packTargetSize=67108864", "encryption=none", ""), StandardCharsets.UTF_8);
        try (Repository repo = Repository.open(root, null)) {
            assertEquals(Compression.zstd(1), repo.config().compression());
            BackupRoundTripTest.assertRestores(repo, id, "disk0", capacity, 9);
        }
    }

    @Test
    void unknownCodecsAreClearErrors() throws Exception {
        assertThrows(IllegalArgumentException.class, () -> Compression.parse("brotli"));
        assertThrows(IllegalArgumentException.class, () -> Compression.parse("zstd:23"));
        assertThrows(IllegalArgumentException.class, () -> Compression.parse("lz4:9"));
        assertEquals(Compression.auto(1), Compression.parse("auto"));
        assertEquals("zstd:3", Compression.parse("ZSTD:3").toString());
        Path root = dir.resolve("r");
        Repository.init(root, InitOptions.defaults().withChunkSize(CHUNK)).close();
        Files.writeString(root.resolve("config"), Files.readString(root.resolve("config")).replace("compression=zstd", "compression=brotli"));
        RepositoryException e = assertThrows(RepositoryException.class, () -> Repository.open(root, null));
        assertTrue(e.getMessage().contains("brotli"), e.getMessage());
    }

    private static int flagsOf(ChunkCodec codec, byte[] plain, boolean cpuBound) {
        ByteBuffer in = ByteBuffer.wrap(plain);
        return codec.encode(codec.digest(in), in, cpuBound).flags();
    }

    private static ByteBuffer whole(ByteBuffer[] rec) {
        ByteBuffer b = ByteBuffer.allocate(rec[0].remaining() + rec[1].remaining());
        return b.put(rec[0].duplicate()).put(rec[1].duplicate()).flip();
    }
}
