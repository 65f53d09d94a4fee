package io.blockmover.index.s3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The object-store client against s3proxy: objects above the multipart threshold go up in parts and come back whole. */
class ObjectStoreTest {
    @TempDir
    Path dir;

    @Test
    void aLargeObjectIsUploadedInPartsAndReadBackByRanges() throws Exception {
        try (S3ProxyServer s3 = S3ProxyServer.start(dir);
             ObjectStore store = new ObjectStore(new S3Target("parts", "p"), s3.settings(Duration.ofSeconds(5)).withMultipartThreshold(8L << 20))) {
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
}
