package io.blockmover.nativebridge.vddk;

/**
 * VDDK cannot be used at all: the library is missing, cannot be loaded, or lacks a function
 * blockmover needs. The message is one line a user can act on.
 */
public class VddkUnavailableException extends Exception {
    public VddkUnavailableException(String message) {
        super(message);
    }
}
