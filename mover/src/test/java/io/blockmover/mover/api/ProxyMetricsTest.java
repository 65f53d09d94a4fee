package io.blockmover.mover.api;

import io.blockmover.mover.api.v1.BackupMode;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.DiskBackupResult;
import io.blockmover.mover.api.v1.Job;
import io.blockmover.mover.api.v1.JobRef;
import io.blockmover.mover.api.v1.JobState;
import io.blockmover.mover.api.v1.RestoreRequest;
import io.blockmover.nbd.esx.Snapshot;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.ToLongFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The metrics endpoint after real jobs: promtool accepts it, and every value is what the jobs reported. */
class ProxyMetricsTest {
    private static final int CHUNK = 256 << 10;

    @TempDir
    Path dir;

    private ProxyFixture fixture;
    private BackupProxyGrpc.BackupProxyBlockingStub proxy;

    @BeforeEach
    void start() throws Exception {
        fixture = new ProxyFixture(dir);
        proxy = fixture.stub(60);
    }

    @AfterEach
    void stop() throws Exception {
        fixture.close();
    }

    private Job run(String id) {
        List<Job> seen = new ArrayList<>();
        proxy.watchJob(JobRef.newBuilder().setId(id).build()).forEachRemaining(seen::add);
        return seen.getLast();
    }

    @Test
    void promtoolAcceptsTheExpositionAndItsValuesAreWhatTheJobsDid() throws Exception {
        Snapshot s1 = fixture.vm.createSnapshot("s1");
        List<DiskBackupResult> disks = new ArrayList<>();
        disks.addAll(run(proxy.submitBackup(fixture.backupOf(s1, BackupMode.BACKUP_MODE_FULL)).getId()).getBackup().getDisksList());
        fixture.sim.workload().writeGrains(20);
        Snapshot s2 = fixture.vm.createSnapshot("s2");
        fixture.sim.faults().dropAfterRequests(3); // once: the incremental reconnects and sends its requests again
        disks.addAll(run(proxy.submitBackup(fixture.backupOf(s2, BackupMode.BACKUP_MODE_AUTO)).getId()).getBackup().getDisksList());
        Job failed = run(proxy.submitBackup(BackupRequest.newBuilder(fixture.backupOf(s2, BackupMode.BACKUP_MODE_INCREMENTAL))
                .setVm("vm-never-backed-up").build()).getId());
        assertEquals(JobState.JOB_STATE_FAILED, failed.getState());
        Job restore = run(proxy.submitRestore(RestoreRequest.newBuilder().setBackupId(2).setTarget(dir.resolve("r.raw").toString())
                .build()).getId());
        assertEquals(JobState.JOB_STATE_SUCCEEDED, restore.getState(), restore.toString());

        String text;
        try (HTTPServer endpoint = fixture.service.metrics().serve(new InetSocketAddress("127.0.0.1", 0));
             HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + endpoint.getPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode());
            text = response.body();
        }
        promtoolAccepts(text);

        Map<String, Double> values = parse(text);
        assertEquals(sum(disks, DiskBackupResult::getReadBytes), value(values, "blockmover_backup_read_bytes_total"));
        assertEquals(sum(disks, DiskBackupResult::getNewBytes), value(values, "blockmover_backup_new_bytes_total"));
        assertEquals(sum(disks, DiskBackupResult::getStoredBytes), value(values, "blockmover_backup_stored_bytes_total"));
        assertEquals(sum(disks, DiskBackupResult::getDeduplicatedBytes), value(values, "blockmover_backup_deduplicated_bytes_total"));
        assertEquals(sum(disks, DiskBackupResult::getSkippedHoleBytes), value(values, "blockmover_backup_skipped_bytes_total{reason=\"hole\"}"));
        assertEquals(sum(disks, DiskBackupResult::getSkippedZeroBytes), value(values, "blockmover_backup_skipped_bytes_total{reason=\"zero\"}"));
        assertEquals(sum(disks, DiskBackupResult::getReusedBytes), value(values, "blockmover_backup_skipped_bytes_total{reason=\"reused\"}"));
        // The disk is a whole number of chunks, so chunk counts follow from the bytes.
        assertEquals(sum(disks, DiskBackupResult::getNewBytes) / CHUNK, value(values, "blockmover_backup_chunks_total{kind=\"new\"}"));
        assertEquals(sum(disks, DiskBackupResult::getDeduplicatedBytes) / CHUNK, value(values, "blockmover_backup_chunks_total{kind=\"known\"}"));
        assertEquals(restore.getRestore().getDisks(0).getWrittenBytes(), value(values, "blockmover_restore_written_bytes_total"));
        assertEquals(2, value(values, "blockmover_jobs_total{kind=\"backup\",state=\"succeeded\"}"));
        assertEquals(1, value(values, "blockmover_jobs_total{kind=\"backup\",state=\"failed\"}"));
        assertEquals(1, value(values, "blockmover_jobs_total{kind=\"restore\",state=\"succeeded\"}"));
        assertEquals(1, value(values, "blockmover_job_errors_total{code=\"failed_precondition\"}"));
        assertEquals(4, value(values, "blockmover_jobs_submitted_total{kind=\"backup\"}") + value(values,
                "blockmover_jobs_submitted_total{kind=\"restore\"}"));
        assertEquals(3, value(values, "blockmover_job_duration_seconds_count{kind=\"backup\"}"));
        assertEquals(2, value(values, "blockmover_job_phase_duration_seconds_count{kind=\"backup\",phase=\"read\"}"));
        assertEquals(3, value(values, "blockmover_transport_disks_total{mode=\"nbd\"}"));
        assertTrue(value(values, "blockmover_nbd_retries_total") >= 1, "the dropped connection was retried");
        assertEquals(0, value(values, "blockmover_queue_length"));
        assertEquals(0, value(values, "blockmover_jobs_running"));
        assertEquals(fixture.repo.packBytes(),
                value(values, "blockmover_repository_size_bytes"));
        double last = value(values, "blockmover_last_backup_timestamp_seconds{vm=\"vm01\"}");
        assertTrue(Math.abs(last - System.currentTimeMillis() / 1000.0) < 120, "last backup at " + last);
        assertTrue(values.keySet().stream().anyMatch(k -> k.startsWith("jvm_memory_used_bytes")), "JVM metrics");
        assertTrue(values.containsKey("process_cpu_seconds_total"), "process metrics");
    }

    private static long sum(List<DiskBackupResult> disks, ToLongFunction<DiskBackupResult> f) {
        return disks.stream().mapToLong(f).sum();
    }

    private static double value(Map<String, Double> values, String series) {
        Double v = values.get(series);
        if (v == null) {
            throw new AssertionError("no series " + series + " in " + values.keySet().stream().filter(k -> k.startsWith("blockmover")).toList());
        }
        return v;
    }

    /** Series (name with labels, as written) to value, from the text exposition format. */
    private static Map<String, Double> parse(String text) {
        Map<String, Double> out = new HashMap<>();
        for (String line : text.lines().toList()) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int space = line.lastIndexOf(' ');
            out.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
        }
        return out;
    }

    /** {@code promtool check metrics}, Prometheus's own linter, reads the exposition and finds nothing to object to. */
    static void promtoolAccepts(String exposition) throws Exception {
        Process p = new ProcessBuilder("promtool", "check", "metrics").redirectErrorStream(true).start();
        try (var in = p.getOutputStream()) {
            in.write(exposition.getBytes(StandardCharsets.UTF_8));
        }
        String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "promtool ends");
        assertEquals(0, p.exitValue(), "promtool check metrics: " + said);
    }
}
