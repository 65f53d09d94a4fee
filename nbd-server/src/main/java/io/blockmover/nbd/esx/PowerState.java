package io.blockmover.nbd.esx;

/** vSphere's {@code VirtualMachinePowerState}. */
public enum PowerState {
    POWERED_ON("poweredOn"),
    POWERED_OFF("poweredOff"),
    SUSPENDED("suspended");

    private final String vsphereName;

    PowerState(String vsphereName) {
        this.vsphereName = vsphereName;
    }

    public String vsphereName() {
        return vsphereName;
    }
}
