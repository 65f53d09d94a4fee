package io.blockmover.mover.vsphere;

import java.net.URI;
import java.time.Duration;

/**
 * Where and as whom to reach vCenter (or an ESXi host): {@code https://HOST/sdk}, a user, the
 * password (read from a file or the environment by the caller, never from the command line) and
 * how to trust the server certificate.
 */
public record VcenterEndpoint(URI url, String user, String password, TrustPolicy trust, Duration readTimeout) {
    public VcenterEndpoint {
        if (!"https".equals(url.getScheme()) || url.getHost() == null) {
            throw new IllegalArgumentException("--vcenter wants https://HOST[:PORT]/sdk, not " + url);
        }
        if (user.isEmpty()) {
            throw new IllegalArgumentException("a vCenter user name is needed (--user)");
        }
    }

    public VcenterEndpoint(URI url, String user, String password, TrustPolicy trust) {
        this(url, user, password, trust, Duration.ofMinutes(5));
    }

    /** Never the password. */
    @Override
    public String toString() {
        return user + "@" + url;
    }
}
