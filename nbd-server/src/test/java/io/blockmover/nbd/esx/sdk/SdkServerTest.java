package io.blockmover.nbd.esx.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.blockmover.nbd.esx.EsxFaults;
import io.blockmover.nbd.esx.EsxHost;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.Optional;

/** The SOAP endpoint on the wire, without any vSphere client library: what each answer looks like. */
class SdkServerTest {
    private static final String ENVELOPE = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope"
            + " xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
            + "<soapenv:Body>%s</soapenv:Body></soapenv:Envelope>";

    static SdkServer server;
    static HttpClient http;
    static X509Certificate[] seen = new X509Certificate[1];

    @BeforeAll
    static void start() throws Exception {
        EsxHost host = EsxHost.generate(new HostSpec(1, 2, 1, 1L << 30, Profile.EMPTY, true));
        server = SdkServer.start(SdkOptions.defaults(new InetSocketAddress("127.0.0.1", 0)), host, new EsxFaults());
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {}

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
                seen[0] = chain[0];
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        }}, null);
        http = HttpClient.newBuilder().sslContext(ctx).build();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static HttpResponse<String> post(String body, Optional<String> cookie) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url()))
                .header("Content-Type", "text/xml; charset=utf-8")
                .POST(HttpRequest.BodyPublishers.ofString(ENVELOPE.formatted(body)));
        cookie.ifPresent(c -> b.header("Cookie", c));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesTheCertificateWhoseThumbprintItPrints() throws Exception {
        HttpResponse<String> r = post("<RetrieveServiceContent xmlns=\"urn:vim25\"><_this type=\"ServiceInstance\">"
                + "ServiceInstance</_this></RetrieveServiceContent>", Optional.empty());
        assertEquals(200, r.statusCode());
        assertTrue(r.body().contains("<apiVersion>6.7</apiVersion>"), r.body());
        assertTrue(r.body().contains("<rootFolder type=\"Folder\">group-d1</rootFolder>"), r.body());
        String sha256 = HexFormat.ofDelimiter(":").withUpperCase()
                .formatHex(MessageDigest.getInstance("SHA-256").digest(seen[0].getEncoded()));
        assertEquals(server.sha256Thumbprint(), sha256);
        assertEquals(59, server.sha1Thumbprint().length());
    }

    @Test
    void faultsCarryTheirTypeAndSessionsGateEveryOtherCall() throws Exception {
        HttpResponse<String> wrong = post("<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this>"
                + "<userName>" + SdkOptions.DEFAULT_USER + "</userName><password>nope</password></Login>", Optional.empty());
        assertEquals(500, wrong.statusCode());
        assertTrue(wrong.body().contains("xsi:type=\"InvalidLogin\""), wrong.body());

        String retrieve = "<RetrieveProperties xmlns=\"urn:vim25\"><_this type=\"PropertyCollector\">propertyCollector</_this>"
                + "<specSet><propSet><type>Datacenter</type><pathSet>vmFolder</pathSet></propSet>"
                + "<objectSet><obj type=\"Datacenter\">datacenter-2</obj></objectSet></specSet></RetrieveProperties>";
        HttpResponse<String> anonymous = post(retrieve, Optional.empty());
        assertTrue(anonymous.body().contains("xsi:type=\"NotAuthenticated\""), anonymous.body());

        HttpResponse<String> login = post("<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this>"
                + "<userName>" + SdkOptions.DEFAULT_USER + "</userName><password>" + SdkOptions.DEFAULT_PASSWORD
                + "</password></Login>", Optional.empty());
        assertEquals(200, login.statusCode());
        String cookie = login.headers().firstValue("Set-Cookie").orElseThrow();
        HttpResponse<String> props = post(retrieve, Optional.of(cookie));
        // A reference in an anyType value: the plain type attribute first (yavijava reads the first "type").
        assertTrue(props.body().contains("<val type=\"Folder\" xsi:type=\"ManagedObjectReference\">group-v3</val>"),
                props.body());

        HttpResponse<String> missing = post("<QueryChangedDiskAreas xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">vm-99"
                + "</_this><snapshot type=\"VirtualMachineSnapshot\">snapshot-1</snapshot><deviceKey>2000</deviceKey>"
                + "<startOffset>0</startOffset><changeId>*</changeId></QueryChangedDiskAreas>", Optional.of(cookie));
        assertTrue(missing.body().contains("xsi:type=\"ManagedObjectNotFound\""), missing.body());
        assertTrue(missing.body().contains("<obj type=\"VirtualMachine\">vm-99</obj>"), missing.body());
    }
}
