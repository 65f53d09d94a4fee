package io.blockmover.mover.pipeline;

import java.io.IOException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The first error of a job whose work runs on many threads: later errors are usually its
 * consequences, so only the first is kept and rethrown to the caller once the work has drained.
 */
final class FirstFailure {
    private final AtomicReference<Throwable> first = new AtomicReference<>();

    void record(Throwable t) {
        Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
        first.compareAndSet(null, cause);
    }

    boolean happened() {
        return first.get() != null;
    }

    /** Throws the recorded failure, as itself when it is unchecked or an IOException. */
    void rethrow() throws IOException {
        Throwable t = first.get();
        if (t instanceof IOException io) {
            throw io;
        }
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t instanceof Error e) {
            throw e;
        }
        if (t != null) {
            throw new IOException(t.getMessage(), t);
        }
    }
}
