package io.blockmover.index.backup;

/** Waiting for threads whose work must not be left half done, whatever interrupts the waiter. */
final class Joins {
    private Joins() {}

    /** Waits for every thread to end; an interrupt meanwhile is kept for the caller, not acted on. */
    static void uninterruptibly(Iterable<Thread> threads) {
        boolean interrupted = false;
        for (Thread t : threads) {
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
