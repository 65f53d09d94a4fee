package io.blockmover.nbd.esx;

import io.blockmover.nbd.server.FaultInjector.Fault;
import io.blockmover.nbd.units.Sizes;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EsxFaultsTest {
    private static final int READ = 0;
    private static final int WRITE = 1;
    private static final int FLUSH = 3;

    @Test
    void healthyByDefault() {
        EsxFaults f = new EsxFaults();
        assertEquals(Fault.None.INSTANCE, f.onRequest(1, "vm01/disk-2000", READ, 0, 65536));
    }

    @Test
    void dropsTheConnectionOnceAfterNRequests() {
        EsxFaults f = new EsxFaults();
        f.dropAfterRequests(2);
        assertInstanceOf(Fault.None.class, f.onRequest(1, "e", READ, 0, 512));
        assertInstanceOf(Fault.None.class, f.onRequest(2, "e", FLUSH, 0, 0));
        assertInstanceOf(Fault.Drop.class, f.onRequest(1, "e", READ, 0, 512));
        assertInstanceOf(Fault.None.class, f.onRequest(3, "e", READ, 0, 512), "one-shot");
    }

    @Test
    void dropsTheConnectionWhosePayloadCrossesTheByteBudget() {
        EsxFaults f = new EsxFaults();
        f.dropAfterBytes(100_000);
        assertInstanceOf(Fault.None.class, f.onRequest(1, "e", READ, 0, 65536));
        assertInstanceOf(Fault.None.class, f.onRequest(1, "e", FLUSH, 0, 0));
        assertInstanceOf(Fault.Drop.class, f.onRequest(1, "e", WRITE, 65536, 65536));
        assertInstanceOf(Fault.None.class, f.onRequest(1, "e", READ, 0, 65536));
    }

    @Test
    void readErrorsHitOverlappingReadsOfTheirExportOnly() {
        EsxFaults f = new EsxFaults();
        f.addReadError(new EsxFaults.ReadError(Optional.of("vm01/disk-2000"), 1 << 20, 4096));
        Fault hit = f.onRequest(1, "vm01/disk-2000", READ, (1 << 20) + 4000, 8192);
        assertEquals(5, assertInstanceOf(Fault.Error.class, hit).errno());
        assertInstanceOf(Fault.None.class, f.onRequest(1, "vm01/disk-2000", READ, (1 << 20) + 4096, 8192));
        assertInstanceOf(Fault.None.class, f.onRequest(1, "vm01/disk-2000", READ, 0, 1 << 20));
        assertInstanceOf(Fault.None.class, f.onRequest(1, "vm02/disk-2000", READ, 1 << 20, 4096));
        assertInstanceOf(Fault.None.class, f.onRequest(1, "vm01/disk-2000", WRITE, 1 << 20, 4096));
        f.clear();
        assertInstanceOf(Fault.None.class, f.onRequest(1, "vm01/disk-2000", READ, 1 << 20, 4096));
    }

    @Test
    void latencyAndRateLimitDelayReplies() {
        EsxFaults f = new EsxFaults();
        f.latency(Duration.ofMillis(5));
        assertEquals(5_000_000, assertInstanceOf(Fault.Delay.class, f.onRequest(1, "e", FLUSH, 0, 0)).nanos());
        f.latency(Duration.ZERO);
        f.rateLimit(10L << 20);
        long last = 0;
        for (int i = 0; i < 10; i++) {
            last = assertInstanceOf(Fault.Delay.class, f.onRequest(1, "e", READ, 0, 1 << 20)).nanos();
        }
        // ten 1 MiB reads at 10 MiB/s are booked back to back: the last one waits about a second
        assertTrue(last > 800_000_000L && last <= 1_000_000_000L, "delay of the 10th read: " + last);
    }

    @Test
    void sizesParse() {
        assertEquals(64L << 30, Sizes.parseBytes("64G"));
        assertEquals(20L << 20, Sizes.parseRate("20MB/s"));
        assertEquals(1L << 40, Sizes.parseBytes("1TiB"));
        assertEquals(Duration.ofNanos(250_000), Sizes.parseDuration("250us"));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> Sizes.parseBytes("12X"));
    }
}
