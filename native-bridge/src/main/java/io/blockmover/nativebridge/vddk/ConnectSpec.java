package io.blockmover.nativebridge.vddk;

import java.util.Optional;

/**
 * What VixDiskLib_ConnectEx needs to reach a VM: the server (vCenter or ESXi), the VM's moref
 * ({@code vm-16} on vCenter, a bare number on ESXi), the server's SHA-1 thumbprint and user
 * credentials. {@code nfcPort} is the host's data port (902 for VDDK's NFC; the test fixture
 * reads its NBD exports there).
 */
public record ConnectSpec(String server, int port, int nfcPort, String vmMoref, Optional<String> thumbprint,
                          Optional<String> user, Optional<String> password) {
    public static final int DEFAULT_PORT = 443;
    public static final int DEFAULT_NFC_PORT = 902;

    public ConnectSpec {
        if (server == null || server.isBlank()) {
            throw new IllegalArgumentException("a VDDK connection needs a server");
        }
        if (vmMoref == null || vmMoref.isBlank()) {
            throw new IllegalArgumentException("a VDDK connection needs the VM's moref (e.g. vm-16)");
        }
        if (port <= 0 || port > 65535 || nfcPort <= 0 || nfcPort > 65535) {
            throw new IllegalArgumentException("bad port " + port + " or NFC port " + nfcPort);
        }
    }

    /** {@code moref=vm-16}, the vmxSpec VDDK wants for a VM of vCenter. */
    public String vmxSpec() {
        return "moref=" + vmMoref;
    }
}
