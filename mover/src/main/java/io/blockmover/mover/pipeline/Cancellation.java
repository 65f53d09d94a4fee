package io.blockmover.mover.pipeline;

import java.util.concurrent.CancellationException;

/** A flag a user (Ctrl-C) or a scheduler raises to stop a job at the next safe point. */
public final class Cancellation {
    private volatile String reason;

    public void cancel(String why) {
        if (reason == null) {
            reason = why;
        }
    }

    public boolean isCancelled() {
        return reason != null;
    }

    /** Throws when cancelled, so loops stop issuing new work. */
    public void check() {
        String r = reason;
        if (r != null) {
            throw new CancellationException(r);
        }
    }
}
