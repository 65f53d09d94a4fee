package io.blockmover.nbd.esx;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EsxControlServerTest {
    private EsxHost host;
    private GuestWorkload workload;
    private EsxFaults faults;
    private EsxControlServer control;
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws Exception {
        host = EsxHost.generate(new HostSpec(42, 2, 2, 64L << 20, Profile.MIXED, true));
        workload = new GuestWorkload(host, 42, GuestWorkload.Pattern.RANDOM);
        faults = new EsxFaults();
        control = EsxControlServer.start(new InetSocketAddress("127.0.0.1", 0), host, faults, workload);
    }

    @AfterEach
    void stop() {
        control.close();
        workload.close();
        http.close();
    }

    private HttpResponse<String> call(String method, String pathAndQuery) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create(control.url() + pathAndQuery))
                .method(method, HttpRequest.BodyPublishers.noBody()).build();
        return http.send(req, HttpResponse.BodyHandlers.ofString());
    }

    private static String first(String regex, String text) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertTrue(m.find(), regex + " in " + text);
        return m.group(1);
    }

    @Test
    void snapshotWriteAndChangedAreasRoundTrip() throws Exception {
        HttpResponse<String> inv = call("GET", "/inventory");
        assertEquals(200, inv.statusCode(), inv.body());
        assertTrue(inv.body().contains("\"export\":\"vm02/disk-2001\""), inv.body());
        assertTrue(inv.body().contains("\"moref\":\"vm-11\""), inv.body());
        assertTrue(inv.body().contains("\"fileName\":\"[datastore1] vm01/vm01_1.vmdk\""), inv.body());

        HttpResponse<String> s1 = call("POST", "/snapshot?vm=vm01&name=base");
        assertEquals(200, s1.statusCode(), s1.body());
        String c1 = first("\"export\":\"vm01/disk-2000@base\",\"changeId\":\"([^\"]+)\"", s1.body());

        HttpResponse<String> w = call("POST", "/write?export=vm01/disk-2000&offset=1048576&length=100000&seed=7");
        assertEquals(200, w.statusCode(), w.body());
        ByteBuf expected = Unpooled.buffer(100_000);
        EsxControlServer.writtenBytes(7, 100_000, expected);
        ByteBuf actual = Unpooled.buffer(100_000);
        host.vm("vm01").orElseThrow().disk(2000).orElseThrow().read(1 << 20, 100_000, actual);
        assertArrayEquals(ByteBufUtil.getBytes(expected), ByteBufUtil.getBytes(actual));

        HttpResponse<String> s2 = call("POST", "/snapshot?vm=vm01&name=incr");
        assertEquals(200, s2.statusCode(), s2.body());
        HttpResponse<String> changed = call("GET", "/changed?export=vm01/disk-2000@incr&changeId=" + c1);
        assertEquals(200, changed.statusCode(), changed.body());
        // 1 MiB + 100000 bytes spans grains 16 and 17
        assertTrue(changed.body().contains("\"areas\":[{\"offset\":1048576,\"length\":131072}]"), changed.body());

        HttpResponse<String> all = call("GET", "/changed?export=vm01/disk-2000@incr&changeId=*");
        assertEquals(200, all.statusCode(), all.body());
        assertTrue(Long.parseLong(first("\"changedBytes\":(\\d+)", all.body())) > 0);

        HttpResponse<String> removed = call("POST", "/remove-snapshot?vm=vm01&name=base");
        assertEquals(200, removed.statusCode(), removed.body());
        assertTrue(host.vm("vm01").orElseThrow().snapshot("base").isEmpty());
    }

    @Test
    void badRequestsGetOneLineErrors() throws Exception {
        HttpResponse<String> fault = call("GET", "/changed?export=vm01/disk-2000&changeId=nope/1");
        assertEquals(400, fault.statusCode());
        assertTrue(fault.body().contains("\"fault\":\"FileFault\"") && fault.body().contains("OTHER_DISK"), fault.body());
        assertEquals(400, call("POST", "/snapshot?vm=nosuch&name=x").statusCode());
        assertEquals(400, call("POST", "/snapshot?vm=vm01&name=has%20space").statusCode());
        assertEquals(400, call("GET", "/snapshot?vm=vm01&name=x").statusCode());
        assertEquals(400, call("GET", "/nothing").statusCode());
        assertEquals(400, call("POST", "/write?export=vm01/disk-2000&offset=67108860&length=100").statusCode());
        assertTrue(host.vm("vm01").orElseThrow().snapshots().isEmpty(), "nothing created by bad requests");
    }

    /** The route, method and query errors name the mistake in one line of JSON, and change nothing. */
    @Test
    void routingAndQueryErrorsAreOneLineJson() throws Exception {
        assertError(call("GET", "/nothing"), "{\"error\":\"unknown path /nothing (have /inventory /snapshot"
                + " /remove-snapshot /changed /cbt /churn /write /faults)\"}");
        assertError(call("GET", "/snapshot?vm=vm01&name=x"), "{\"error\":\"use POST\"}");
        assertError(call("DELETE", "/inventory"), "{\"error\":\"use GET\"}");
        assertError(call("POST", "/snapshot?vm&name=x"), "{\"error\":\"bad query parameter 'vm' in 'vm&name=x' (want name=value)\"}");
        assertError(call("POST", "/snapshot?vm=vm01&name="), "{\"error\":\"bad query parameter 'name' in 'vm=vm01&name=' (want name=value)\"}");
        HttpResponse<String> noName = call("POST", "/snapshot?vm=vm01&=x");
        assertEquals(400, noName.statusCode(), noName.body());
        assertTrue(noName.body().contains("in 'vm=vm01&=x' (want name=value)"), noName.body());
        // java.net.URI refuses a broken escape, so this one goes over a plain socket.
        String escape = raw("POST /snapshot?vm=vm01&name=a%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertTrue(escape.startsWith("HTTP/1.1 400 "), escape);
        assertTrue(escape.contains("\r\n\r\n{\"error\":\"malformed query 'vm=vm01&name=a%zz': "), escape);
        String tooLong = raw("GET /inventory?" + "x".repeat(8192) + " HTTP/1.1\r\nHost: x\r\n\r\n");
        assertTrue(tooLong.startsWith("HTTP/1.1 400 "), tooLong);
        assertTrue(tooLong.contains("\r\n\r\n{\"error\":\"malformed HTTP request: "), tooLong);
        assertEquals(1, tooLong.split("\r\n\r\n")[1].lines().count(), tooLong);
        assertError(call("POST", "/snapshot?vm=vm01"), "{\"error\":\"missing parameter 'name'\"}");
        assertError(call("POST", "/write?export=vm01/disk-2000&offset=x&length=1"),
                "{\"error\":\"parameter 'offset' is not a number: x\"}");
        assertTrue(host.vm("vm01").orElseThrow().snapshots().isEmpty(), "nothing created by bad requests");
        // A %-escaped value and a semicolon reach the action decoded and whole.
        HttpResponse<String> named = call("POST", "/snapshot?vm=vm%301&name=a;b");
        assertEquals(400, named.statusCode(), named.body());
        assertTrue(named.body().contains("a;b"), named.body());
    }

    private String raw(String request) throws Exception {
        try (Socket s = new Socket(control.localAddress().getAddress(), control.localAddress().getPort())) {
            s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static void assertError(HttpResponse<String> r, String body) {
        assertEquals(400, r.statusCode(), r.body());
        assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(""));
        assertEquals(body + "\n", r.body());
    }

    @Test
    void churnAndFaultsAreSettable() throws Exception {
        HttpResponse<String> churn = call("POST", "/churn?rate=0&pattern=sequential");
        assertEquals(200, churn.statusCode(), churn.body());
        assertEquals(GuestWorkload.Pattern.SEQUENTIAL, workload.pattern());
        assertEquals(400, call("POST", "/churn?rate=1M&pattern=zigzag").statusCode());
        assertEquals(0, workload.rate(), "a refused request changes nothing");
        HttpResponse<String> f = call("POST", "/faults?latency=5ms&readError=0:4096:vm01/disk-2000&dropAfterRequests=3");
        assertEquals(200, f.statusCode(), f.body());
        assertTrue(f.body().contains("latency=PT0.005S") && f.body().contains("dropAfterRequests=3"), f.body());
        HttpResponse<String> cbt = call("POST", "/cbt?vm=vm02&action=disable");
        assertEquals(200, cbt.statusCode(), cbt.body());
        assertTrue(!host.vm("vm02").orElseThrow().disks().getFirst().cbtEnabled());
    }
}
