package io.blockmover.mover.cli;

import io.blockmover.mover.vsphere.BusyRetry;
import io.blockmover.mover.vsphere.TrustPolicy;
import io.blockmover.mover.vsphere.VcenterConnection;
import io.blockmover.mover.vsphere.VcenterEndpoint;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;

/** How to reach vCenter: the options every vSphere command shares. */
final class VcenterOptions {
    static final String PASSWORD_ENV = "BLOCKMOVER_VCENTER_PASSWORD";

    @Option(names = "--vcenter", paramLabel = "URL", description = "vCenter (or ESXi) SDK URL: https://HOST[:PORT]/sdk.")
    String url;

    @Option(names = "--user", paramLabel = "NAME", description = "vCenter user, e.g. backup@vsphere.local.")
    String user;

    @Option(names = "--password-file", paramLabel = "FILE",
            description = "File whose first line is the vCenter password (else $" + PASSWORD_ENV + "; never on the command line).")
    Path passwordFile;

    @Option(names = "--thumbprint", paramLabel = "SHA256",
            description = "Trust exactly the vCenter certificate with this SHA-256 thumbprint (AB:CD:... or hex).")
    String thumbprint;

    @Option(names = "--vcenter-ca", paramLabel = "PEM", description = "Trust vCenter certificates issued by this CA (with host name check).")
    Path ca;

    @Option(names = "--insecure", description = "Do not check the vCenter certificate at all (warns; for labs only).")
    boolean insecure;

    @Option(names = "--vcenter-max-retries", paramLabel = "N", defaultValue = "10",
            description = "VCB's MAX_RETRIES: how often a call refused because the VM is busy is retried (default ${DEFAULT-VALUE}).")
    int maxRetries;

    @Option(names = "--vcenter-retry-wait", paramLabel = "DURATION", defaultValue = "5s",
            description = "VCB's RETRY_WAIT: the pause before each retry (default ${DEFAULT-VALUE}).")
    String retryWait;

    boolean given() {
        return url != null;
    }

    BusyRetry retry() {
        return new BusyRetry(maxRetries, io.blockmover.nbd.units.Sizes.parseDuration(retryWait));
    }

    VcenterEndpoint endpoint() throws IOException {
        if (url == null) {
            throw new IllegalArgumentException("--vcenter https://HOST/sdk is needed");
        }
        if (user == null) {
            throw new IllegalArgumentException("--user is needed with --vcenter");
        }
        String password;
        if (passwordFile != null) {
            password = PasswordFiles.read(passwordFile);
        } else {
            password = System.getenv(PASSWORD_ENV);
            if (password == null || password.isEmpty()) {
                throw new IllegalArgumentException("no vCenter password: give --password-file FILE or set $" + PASSWORD_ENV);
            }
        }
        int ways = (thumbprint != null ? 1 : 0) + (ca != null ? 1 : 0) + (insecure ? 1 : 0);
        if (ways != 1) {
            throw new IllegalArgumentException(ways == 0
                    ? "say how to trust vCenter's certificate: --thumbprint SHA256 (esxsim prints it), --vcenter-ca PEM, or --insecure"
                    : "give only one of --thumbprint, --vcenter-ca and --insecure");
        }
        TrustPolicy trust = thumbprint != null ? TrustPolicy.Thumbprint.parse(thumbprint)
                : ca != null ? new TrustPolicy.CaFile(ca) : new TrustPolicy.Insecure();
        return new VcenterEndpoint(URI.create(url), user, password, trust, Duration.ofMinutes(5));
    }

    VcenterConnection connect() throws IOException {
        return VcenterConnection.open(endpoint());
    }
}
