package io.blockmover.mover.pipeline;

import java.io.IOException;

/**
 * An incremental was demanded and cannot be done (no earlier backup, changed areas unknown):
 * retrying will not help, a full backup will. Kept apart from I/O failures so a scheduler
 * is not told to retry.
 */
public final class IncrementalImpossibleException extends IOException {
    public IncrementalImpossibleException(String message) {
        super(message);
    }
}
