package io.blockmover.index.s3;

import java.io.IOException;

/** An object-store request that failed for good: its message is the one line a user sees. */
public final class ObjectStoreException extends IOException {
    private final boolean notFound;

    public ObjectStoreException(String message, Throwable cause, boolean notFound) {
        super(message, cause);
        this.notFound = notFound;
    }

    /** The object does not exist (404): a fact, not a fault. */
    public boolean notFound() {
        return notFound;
    }
}
