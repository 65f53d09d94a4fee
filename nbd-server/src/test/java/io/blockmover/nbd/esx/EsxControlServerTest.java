package io.blockmover.nbd.esx;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
