package io.blockmover.nbd.server;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;

/**
 * Runs device calls off the event loops, one virtual thread per request: a device may block
 * (the emulated host computes data, a file device waits for the disk) and requests of one
 * connection may complete in any order. The number of requests per connection is bounded by
 * {@link TransmissionHandler}, so the thread count is bounded too.
 */
final class RequestDispatcher implements AutoCloseable {
    private final ExecutorService executor = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("nbd-request-", 0).factory());

    /** Runs the task, or returns false when the server is shutting down. */
    boolean submit(Runnable task) {
        try {
            executor.execute(task);
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
