package io.blockmover.mover.vsphere;

import com.vmware.vim25.VimPortType;
import com.vmware.vim25.mo.ServerConnection;
import com.vmware.vim25.mo.ServiceInstance;
import com.vmware.vim25.ws.WSClient;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;
import java.net.MalformedURLException;
import java.net.URL;
import java.rmi.RemoteException;
import java.security.GeneralSecurityException;

/**
 * A yavijava ServiceInstance whose HTTPS client trusts through our own trust manager. yavijava's
 * own TrustManager path caches the first SSLContext it ever builds in a static field, so a second
 * connection with another thumbprint would silently reuse the first one's trust: this builds a
 * context per connection instead.
 */
final class TrustingServiceInstance extends ServiceInstance {
    private static final int CONNECT_TIMEOUT_MS = 30_000;

    TrustingServiceInstance(URL url, String user, String password, TrustManager trust, int readTimeoutMs)
            throws RemoteException, MalformedURLException {
        super(url, user, password, new TimedTrust(trust, readTimeoutMs));
    }

    /** The trust manager and the read timeout, carried through the super constructor's one parameter. */
    private record TimedTrust(TrustManager trust, int readTimeoutMs) implements TrustManager {}

    /** Called by the super constructor: what yavijava does, but with a client of our own. */
    @Override
    protected void constructServiceInstance(URL url, String username, String password, boolean ignoreCert,
                                            String namespace, int connectTimeout, int readTimeout, TrustManager tm)
            throws RemoteException, MalformedURLException {
        TimedTrust timed = (TimedTrust) tm;
        setMOR(SERVICE_INSTANCE_MOR_COPY);
        Client client = new Client(url.toString(), timed.trust());
        client.setVimNameSpace(namespace);
        client.setConnectTimeout(CONNECT_TIMEOUT_MS);
        client.setReadTimeout(timed.readTimeoutMs());
        VimPortType vim = new VimPortType(client);
        String apiVersion = retrieveServiceContent(vim, SERVICE_INSTANCE_MOR_COPY).getAbout().getApiVersion();
        client.setSoapActionOnApiVersion(apiVersion);
        setServerConnection(new ServerConnection(url, vim, this));
        login(getSessionManager(), username, password, null);
    }

    private static final com.vmware.vim25.ManagedObjectReference SERVICE_INSTANCE_MOR_COPY = serviceInstanceMor();

    private static com.vmware.vim25.ManagedObjectReference serviceInstanceMor() {
        com.vmware.vim25.ManagedObjectReference m = new com.vmware.vim25.ManagedObjectReference();
        m.setType("ServiceInstance");
        m.set_value("ServiceInstance");
        return m;
    }

    /** yavijava's SOAP client with an SSL socket factory of this connection's own. */
    private static final class Client extends WSClient {
        Client(String url, TrustManager trust) throws MalformedURLException, RemoteException {
            super(url, false, trust);
        }

        @Override
        protected SSLSocketFactory getCustomTrustManagerSocketFactory(TrustManager trust) throws RemoteException {
            try {
                SSLContext ctx = SSLContext.getInstance("TLS");
                ctx.init(null, new TrustManager[] {trust}, null);
                return ctx.getSocketFactory();
            } catch (GeneralSecurityException e) {
                throw new RemoteException("cannot set up TLS for vCenter", e);
            }
        }
    }
}
