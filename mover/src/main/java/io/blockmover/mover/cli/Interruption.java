package io.blockmover.mover.cli;

import io.blockmover.mover.pipeline.Cancellation;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Turns Ctrl-C (SIGINT/SIGTERM, delivered to Java as shutdown) into a cancellation of the
 * running job, and holds the JVM until the job has aborted cleanly: sockets closed, the
 * unfinished backup discarded, the repository lock released.
 */
final class Interruption implements AutoCloseable {
    private static final long GRACE_SECONDS = 60;

    private final Cancellation cancellation = new Cancellation();
    private final CountDownLatch finished = new CountDownLatch(1);
    private final Thread hook;

    Interruption() {
        hook = new Thread(() -> {
            cancellation.cancel("interrupted");
            System.err.println("\nblockmover: interrupted; stopping cleanly (nothing partial is kept)...");
            try {
                finished.await(GRACE_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "interrupt");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    Cancellation cancellation() {
        return cancellation;
    }

    @Override
    public void close() {
        finished.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // The hook is running: it has just been released.
        }
    }
}
