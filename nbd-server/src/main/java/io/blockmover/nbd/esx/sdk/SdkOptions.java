package io.blockmover.nbd.esx.sdk;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * How the SDK endpoint runs.
 *
 * @param users            user name to password
 * @param certificate      certificate chain and key PEM files; empty makes a self-signed one
 * @param idleTimeout      a session ends after this long without a call (vCenter's default is 30 min)
 * @param changedAreasPage at most this many bytes of a disk per QueryChangedDiskAreas answer
 */
public record SdkOptions(InetSocketAddress listen, Map<String, String> users, Optional<Certificate> certificate,
                         Duration idleTimeout, long changedAreasPage) {
    /** The test user when none is given (printed at start). */
    public static final String DEFAULT_USER = "administrator@vsphere.local";
    public static final String DEFAULT_PASSWORD = "blockmover";
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofMinutes(30);
    /** 4 GiB per answer: a 2 TB disk takes 500 calls, like the paging real vCenter does. */
    public static final long DEFAULT_CHANGED_AREAS_PAGE = 4L << 30;

    /** A PEM certificate chain and its PKCS#8 key. */
    public record Certificate(Path chainPem, Path keyPem) {}

    public SdkOptions {
        users = Map.copyOf(users);
        if (users.isEmpty()) {
            throw new IllegalArgumentException("the SDK endpoint needs at least one user");
        }
        if (idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("session idle timeout must be positive");
        }
        if (changedAreasPage < 65536 || changedAreasPage % 65536 != 0) {
            throw new IllegalArgumentException("changed-areas page must be a multiple of 64 KiB");
        }
    }

    /** The test user, a self-signed certificate and vCenter's defaults. */
    public static SdkOptions defaults(InetSocketAddress listen) {
        return new SdkOptions(listen, Map.of(DEFAULT_USER, DEFAULT_PASSWORD), Optional.empty(), DEFAULT_IDLE_TIMEOUT,
                DEFAULT_CHANGED_AREAS_PAGE);
    }

    public SdkOptions withIdleTimeout(Duration timeout) {
        return new SdkOptions(listen, users, certificate, timeout, changedAreasPage);
    }

    public SdkOptions withChangedAreasPage(long bytes) {
        return new SdkOptions(listen, users, certificate, idleTimeout, bytes);
    }

    public SdkOptions withUsers(Map<String, String> newUsers) {
        return new SdkOptions(listen, newUsers, certificate, idleTimeout, changedAreasPage);
    }

    public SdkOptions withCertificate(Certificate c) {
        return new SdkOptions(listen, users, Optional.of(c), idleTimeout, changedAreasPage);
    }
}
