package io.blockmover.mover.vsphere;

import java.io.IOException;

/** A vSphere call that failed, with a one-line message a user can act on. */
public class VsphereException extends IOException {
    public VsphereException(String message) {
        super(message);
    }

    public VsphereException(String message, Throwable cause) {
        super(message, cause);
    }
}
