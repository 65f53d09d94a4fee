package io.blockmover.nbd.esx;

/**
 * How a VM is found: by name, BIOS uuid, instance uuid (vCenter's own), managed object reference
 * ({@code vm-12}) or guest IP.
 */
public record VmIdentity(String name, String uuid, String instanceUuid, String moref, String ip, PowerState powerState,
                         int hardwareVersion) {
    public VmIdentity {
        if (!ExportNames.isValidComponent(name)) {
            throw new IllegalArgumentException("bad VM name '" + name + "' (letters, digits, '.', '_', '-')");
        }
    }
}
