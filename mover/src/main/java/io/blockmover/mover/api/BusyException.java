package io.blockmover.mover.api;

/** The request conflicts with a job already running (a second backup of the same VM): retry later. */
final class BusyException extends RuntimeException {
    BusyException(String message) {
        super(message);
    }
}
