package io.blockmover.index;

import io.blockmover.index.TestData.Kind;
import io.blockmover.index.backup.BackupReader;
import io.blockmover.index.backup.BackupSpec;
import io.blockmover.index.backup.BackupWriter;
import io.blockmover.index.backup.DiskSpec;
import io.blockmover.index.backup.DiskWriter;
import io.blockmover.index.format.RepositoryException;
import io.blockmover.index.format.WrongPassphraseException;
import io.blockmover.index.maintenance.Verifier;
import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EncryptionTest {
    static final int CHUNK = 64 << 10;
    static final int CHUNKS = 24;

    @TempDir
    Path dir;

    static Kind kind(int i) {
        return i % 3 == 0 ? Kind.TEXT : i % 3 == 1 ? Kind.RANDOM : Kind.ZERO;
    }

    long write(Repository repo) throws Exception {
        try (BackupWriter w = repo.newBackup(BackupSpec.full("vm", "enc"))) {
            DiskWriter d = w.addDisk(new DiskSpec("disk0", (long) CHUNKS * CHUNK, ""));
            ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
            for (int i = 0; i < CHUNKS; i++) {
                d.put((long) i * CHUNK, TestData.fill(b, kind(i), i, CHUNK));
            }
            return w.commit();
        }
    }

    @Test
    void wrongPassphraseIsRefusedAndTheRightOneRestores() throws Exception {
        Path root = dir.resolve("r");
        long id;
        try (Repository repo = Repository.init(root, InitOptions.defaults().withChunkSize(CHUNK).withPassphrase("correct horse".toCharArray(), 1000))) {
            id = write(repo);
        }
        WrongPassphraseException e = assertThrows(WrongPassphraseException.class, () -> Repository.open(root, "battery staple".toCharArray()));
        assertEquals("wrong passphrase: it does not unlock this repository's key", e.getMessage());
        assertThrows(RepositoryException.class, () -> Repository.open(root, null));
        try (Repository repo = Repository.open(root, "correct horse".toCharArray())) {
            assertRestores(repo, id);
            assertTrue(new Verifier(repo).run(2).ok());
            repo.changePassphrase("new words".toCharArray());
        }
        assertThrows(WrongPassphraseException.class, () -> Repository.open(root, "correct horse".toCharArray()));
        try (Repository repo = Repository.open(root, "new words".toCharArray())) {
            assertRestores(repo, id);
        }
    }

    @Test
    void noPlaintextAndNoRawDigestInAnyFile() throws Exception {
        Path enc = dir.resolve("enc");
        Path plain = dir.resolve("plain");
        try (Repository repo = Repository.init(enc, InitOptions.defaults().withChunkSize(CHUNK).withPassphrase("pw-pw-pw".toCharArray(), 1000))) {
            write(repo);
        }
        try (Repository repo = Repository.init(plain, InitOptions.defaults().withChunkSize(CHUNK))) {
            write(repo);
        }
        List<byte[]> secrets = new ArrayList<>();
        List<byte[]> digests = new ArrayList<>();
        for (int i = 0; i < CHUNKS; i++) {
            if (kind(i) == Kind.ZERO) {
                continue;
            }
            byte[] content = TestData.bytes(kind(i), i, CHUNK);
            secrets.add(java.util.Arrays.copyOfRange(content, CHUNK / 2, CHUNK / 2 + 48));
            digests.add(MessageDigest.getInstance("SHA-256").digest(content));
        }
        byte[] encFiles = allBytes(enc);
        byte[] plainFiles = allBytes(plain);
        // The search works: the unencrypted repository shows raw digests and random plaintext.
        assertTrue(digests.stream().allMatch(dg -> indexOf(plainFiles, dg) >= 0), "control: raw digests are in a plain repository");
        assertTrue(indexOf(plainFiles, secrets.get(1)) >= 0, "control: random (stored raw) plaintext is in a plain repository");
        for (byte[] s : secrets) {
            assertEquals(-1, indexOf(encFiles, s), "plaintext found in the encrypted repository");
        }
        for (byte[] dg : digests) {
            assertEquals(-1, indexOf(encFiles, dg), "a raw SHA-256 of content found in the encrypted repository");
        }
    }

    static void assertRestores(Repository repo, long id) throws Exception {
        try (BackupReader r = repo.openBackup(id)) {
            ByteBuffer got = ByteBuffer.allocate(CHUNK);
            for (int i = 0; i < CHUNKS; i++) {
                got.clear();
                r.disk("disk0").read((long) i * CHUNK, got);
                assertArrayEquals(TestData.bytes(kind(i), i, CHUNK), got.array(), "chunk " + i);
            }
        }
    }

    static byte[] allBytes(Path root) throws Exception {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                out.write(Files.readAllBytes(f));
            }
        }
        return out.toByteArray();
    }

    static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
