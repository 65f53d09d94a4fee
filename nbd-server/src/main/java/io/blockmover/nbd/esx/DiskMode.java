package io.blockmover.nbd.esx;

import java.util.Locale;

/** vSphere's {@code VirtualDiskMode} values we emulate. */
public enum DiskMode {
    PERSISTENT,
    /** Not affected by snapshots; no CBT. */
    INDEPENDENT_PERSISTENT,
    /** Not affected by snapshots; no CBT (changes would be discarded at power-off). */
    INDEPENDENT_NONPERSISTENT;

    public boolean independent() {
        return this != PERSISTENT;
    }

    /** The name vSphere uses, e.g. {@code independent_persistent}. */
    public String vsphereName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
