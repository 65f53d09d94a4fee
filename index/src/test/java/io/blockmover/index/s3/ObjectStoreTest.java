package io.blockmover.index.s3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The object-store client against s3proxy: objects above the multipart threshold go up in parts
 * and come back whole; TLS with a private CA, and refused without it.
 */
class ObjectStoreTest {
    @TempDir
    Path dir;

    @Test
    void aLargeObjectIsUploadedInPartsAndReadBackByRanges() throws Exception {
        try (S3ProxyServer s3 = S3ProxyServer.start(dir, true);
             ObjectStore store = new ObjectStore(new S3Target("parts", "p"), s3.settings(Duration.ofSeconds(5)).withMultipartThreshold(8L << 20))) {
            checkTls(s3);
            store.createBucketIfMissing();
            byte[] data = new byte[(20 << 20) + 123];
            new SplittableRandom(1).nextBytes(data);
            store.put("big", ByteBuffer.wrap(data, 0, 7 << 20), ByteBuffer.wrap(data, 7 << 20, data.length - (7 << 20)));
            assertArrayEquals(data, store.get("big"));
            ByteBuffer tail = ByteBuffer.allocate(1000);
            assertEquals(123, store.read("big", 20 << 20, tail));
            assertEquals(-1, store.read("big", data.length + 10, ByteBuffer.allocate(10)));
            assertEquals(data.length, store.list("b").getFirst().size());
        }
    }

    /** https to s3proxy's self-signed certificate: trusted through --s3-ca's file; refused in one line without it. */
    private static void checkTls(S3ProxyServer s3) throws Exception {
        S3Settings tls = s3.settings(Duration.ofSeconds(2)).withEndpoint(s3.tlsEndpoint());
        try (ObjectStore trusted = new ObjectStore(new S3Target("tls-bucket", ""), tls.withCa(s3.caFile()))) {
            trusted.createBucketIfMissing();
            trusted.put("hello", ByteBuffer.wrap(new byte[] {1, 2, 3}));
            assertArrayEquals(new byte[] {1, 2, 3}, trusted.get("hello"));
        }
        try (ObjectStore untrusted = new ObjectStore(new S3Target("tls-bucket", ""), tls)) {
            ObjectStoreException e = assertThrows(ObjectStoreException.class, () -> untrusted.get("hello"));
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            assertTrue(e.getMessage().contains("https://127.0.0.1"), e.getMessage());
        }
    }
}
