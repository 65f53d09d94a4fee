package io.blockmover.mover.vsphere;

import com.vmware.vim25.InvalidLogin;
import com.vmware.vim25.NotAuthenticated;
import com.vmware.vim25.mo.ServiceInstance;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedTrustManager;
import java.io.IOException;
import java.net.ConnectException;
import java.net.MalformedURLException;
import java.rmi.RemoteException;
import java.security.cert.CertificateException;

/**
 * A logged-in session with vCenter, kept for many calls and logged in again when it expired
 * (an idle proxy's session times out on vCenter after 30 minutes by default).
 */
public final class VcenterConnection implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VcenterConnection.class);

    /** One vSphere call on the current session. */
    @FunctionalInterface
    public interface Call<T> {
        T run(ServiceInstance si) throws RemoteException;
    }

    private final VcenterEndpoint endpoint;
    private final X509ExtendedTrustManager trust;
    private ServiceInstance si;

    private VcenterConnection(VcenterEndpoint endpoint, X509ExtendedTrustManager trust) {
        this.endpoint = endpoint;
        this.trust = trust;
    }

    /** Connects and logs in; a wrong password, an untrusted certificate or an unreachable host fail in one line. */
    public static VcenterConnection open(VcenterEndpoint endpoint) throws IOException {
        if (endpoint.trust() instanceof TrustPolicy.Insecure) {
            log.warn("--insecure: the certificate of {} is not checked; anyone on the path can read the password", endpoint.url());
        }
        VcenterConnection c = new VcenterConnection(endpoint, VcenterTrust.of(endpoint.trust()));
        c.login();
        return c;
    }

    public VcenterEndpoint endpoint() {
        return endpoint;
    }

    private synchronized void login() throws VsphereException {
        try {
            si = new TrustingServiceInstance(endpoint.url().toURL(), endpoint.user(), endpoint.password(), trust,
                    (int) endpoint.readTimeout().toMillis());
        } catch (InvalidLogin e) {
            throw new VsphereException("vCenter " + endpoint.url() + " refused the login of " + endpoint.user()
                    + ": incorrect user name or password");
        } catch (RemoteException | MalformedURLException e) {
            // The root cause's text is the message; yavijava's wrappers would repeat it in every line.
            log.debug("connecting to {} failed", endpoint.url(), e);
            throw new VsphereException("cannot connect to vCenter " + endpoint.url() + ": " + rootMessage(e));
        }
    }

    /**
     * Runs a call; when the session has expired (NotAuthenticated) it logs in again and runs the
     * call once more. Other faults pass through for the caller to map.
     */
    public <T> T call(Call<T> call) throws RemoteException, VsphereException {
        ServiceInstance current;
        synchronized (this) {
            current = si;
        }
        try {
            return call.run(current);
        } catch (NotAuthenticated e) {
            log.info("vCenter session expired; logging in again");
            synchronized (this) {
                if (si == current) {
                    login();
                }
                current = si;
            }
            return call.run(current);
        }
    }

    /** What went wrong at the bottom of a chain of wrappers, for a one-line message. */
    static String rootMessage(Throwable e) {
        Throwable t = e;
        String certificate = null;
        while (t.getCause() != null && t.getCause() != t) {
            if (t instanceof CertificateException && t.getMessage() != null) {
                certificate = t.getMessage();
            }
            t = t.getCause();
        }
        if (t instanceof CertificateException && t.getMessage() != null) {
            certificate = t.getMessage();
        }
        if (certificate != null) {
            return "certificate refused: " + certificate;
        }
        if (t instanceof ConnectException) {
            return "connection refused";
        }
        if (t instanceof SSLException) {
            return "TLS failed: " + t.getMessage();
        }
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }

    @Override
    public synchronized void close() {
        if (si == null) {
            return;
        }
        try {
            si.getSessionManager().logout();
        } catch (RemoteException | RuntimeException e) {
            log.debug("logout from {} failed (the session ends at its idle timeout anyway)", endpoint.url(), e);
        }
        si = null;
    }
}
