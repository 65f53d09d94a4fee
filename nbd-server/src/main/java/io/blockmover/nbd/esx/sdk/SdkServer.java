package io.blockmover.nbd.esx.sdk;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.blockmover.nbd.esx.EsxFaults;
import io.blockmover.nbd.esx.EsxHost;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The emulated host's vSphere API: SOAP over HTTPS at {@code /sdk}, the slice of vCenter 6.7 a
 * backup proxy uses (see {@link VimService}), over the same inventory the NBD exports serve.
 */
public final class SdkServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SdkServer.class);
    private static final int MAX_REQUEST = 1 << 20;

    private final HttpsServer server;
    private final ExecutorService executor;
    private final VimService service;
    private final SdkCertificate certificate;

    private SdkServer(HttpsServer server, ExecutorService executor, VimService service, SdkCertificate certificate) {
        this.server = server;
        this.executor = executor;
        this.service = service;
        this.certificate = certificate;
    }

    public static SdkServer start(SdkOptions options, EsxHost host, EsxFaults faults) throws IOException {
        SdkCertificate cert = options.certificate().isPresent()
                ? SdkCertificate.fromPem(options.certificate().get().chainPem(), options.certificate().get().keyPem())
                : SdkCertificate.selfSigned(List.of(options.listen().getAddress().getHostAddress(), "localhost"));
        HttpsServer server = HttpsServer.create(options.listen(), 64);
        server.setHttpsConfigurator(new HttpsConfigurator(cert.sslContext()));
        ExecutorService executor = Executors.newFixedThreadPool(4,
                r -> Thread.ofPlatform().daemon().name("esx-sdk-", 0).unstarted(r));
        server.setExecutor(executor);
        VimService service = new VimService(host,
                new Sessions(options.users(), options.idleTimeout(), Clock.systemUTC()), faults, options.changedAreasPage());
        SdkServer s = new SdkServer(server, executor, service, cert);
        server.createContext("/sdk", s::handle);
        server.start();
        log.info("vSphere API on {} (SHA-256 thumbprint {})", s.url(), s.sha256Thumbprint());
        return s;
    }

    public InetSocketAddress localAddress() {
        return server.getAddress();
    }

    /** {@code https://HOST:PORT/sdk}. */
    public String url() {
        return "https://" + localAddress().getAddress().getHostAddress() + ":" + localAddress().getPort() + "/sdk";
    }

    public String sha1Thumbprint() {
        return certificate.thumbprint("SHA-1");
    }

    public String sha256Thumbprint() {
        return certificate.thumbprint("SHA-256");
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            int status = 200;
            byte[] body;
            Optional<Sessions.Session> newSession = Optional.empty();
            try {
                if (!ex.getRequestMethod().equals("POST")) {
                    throw SdkFault.invalidRequest("the SDK answers POST only");
                }
                XmlNode method = method(ex.getRequestBody());
                VimService.Answer a = service.call(method, Optional.ofNullable(ex.getRequestHeaders().getFirst("Cookie")));
                body = a.body();
                newSession = a.newSession();
            } catch (SdkFault f) {
                status = 500;
                body = SoapWriter.fault(f);
            } catch (RuntimeException e) {
                log.error("SDK call failed", e);
                status = 500;
                body = SoapWriter.fault(SdkFault.systemError(String.valueOf(e)));
            }
            newSession.ifPresent(s -> ex.getResponseHeaders().set("Set-Cookie", Sessions.setCookie(s)));
            ex.getResponseHeaders().set("Content-Type", "text/xml; charset=utf-8");
            ex.sendResponseHeaders(status, body.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    /** The method element of the request's SOAP body. */
    private static XmlNode method(InputStream in) throws SdkFault, IOException {
        byte[] request = in.readNBytes(MAX_REQUEST + 1);
        if (request.length > MAX_REQUEST) {
            throw SdkFault.invalidRequest("request larger than " + MAX_REQUEST + " bytes");
        }
        XmlNode envelope = XmlNode.parse(new java.io.ByteArrayInputStream(request));
        XmlNode body = envelope.child("Body").orElseThrow(() -> SdkFault.invalidRequest("no SOAP Body"));
        if (body.children().isEmpty()) {
            throw SdkFault.invalidRequest("empty SOAP Body");
        }
        return body.children().getFirst();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        service.close();
    }
}
