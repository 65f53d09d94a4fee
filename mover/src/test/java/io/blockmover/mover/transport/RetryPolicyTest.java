package io.blockmover.mover.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class RetryPolicyTest {

    @Test
    void waitsDoubleUpToTheBound() {
        RetryPolicy p = new RetryPolicy(10, Duration.ofMillis(100), Duration.ofMillis(700));
        assertEquals(Duration.ofMillis(100), p.delayBefore(1));
        assertEquals(Duration.ofMillis(200), p.delayBefore(2));
        assertEquals(Duration.ofMillis(400), p.delayBefore(3));
        assertEquals(Duration.ofMillis(700), p.delayBefore(4));
        assertEquals(Duration.ofMillis(700), p.delayBefore(1_000_000));
    }

    @Test
    void rejectsNonsense() {
        assertThrows(IllegalArgumentException.class, () -> new RetryPolicy(-1, Duration.ZERO, Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> new RetryPolicy(1, Duration.ofSeconds(2), Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> RetryPolicy.DEFAULT.delayBefore(0));
    }

    @Test
    void blockConstraintsRoundRequestSizes() {
        BlockConstraints c = new BlockConstraints(512, 4096, 1_000_000);
        assertEquals(999_936, c.requestSize(4 << 20));
        assertEquals(4096, c.requestSize(100));
        assertEquals(true, c.aligned(1024, 512));
        assertEquals(false, c.aligned(1024, 100));
    }
}
