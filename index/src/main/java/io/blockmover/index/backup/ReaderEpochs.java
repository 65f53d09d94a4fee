package io.blockmover.index.backup;

import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * Open readers (restores, verifies), numbered in the order they opened. A reader may hold chunk
 * locations from the index as it was when it opened; gc deletes a pack only after every reader
 * that opened before the pack's last location left the index has closed
 * ({@link #mark()} then {@link #awaitBefore}). Readers that open later are never waited for.
 */
public final class ReaderEpochs {
    private final TreeSet<Long> open = new TreeSet<>();
    private long next;

    public ReaderEpochs() {
    }

    public synchronized long enter() {
        long t = next++;
        open.add(t);
        return t;
    }

    public synchronized void exit(long ticket) {
        open.remove(ticket);
        notifyAll();
    }

    /** Every reader open now has a ticket below the returned mark. */
    public synchronized long mark() {
        return next;
    }

    /** Waits until no reader with a ticket below {@code mark} is open; false after {@code timeoutMillis}. */
    public synchronized boolean awaitBefore(long mark, long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (!open.isEmpty() && open.first() < mark) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                return false;
            }
            wait(left);
        }
        return true;
    }
}
