package io.blockmover.nbd.esx;

/** A control request the client got wrong; the control API answers it with 400 and the message. */
final class ControlBadRequest extends Exception {
    ControlBadRequest(String message) {
        super(message);
    }
}
