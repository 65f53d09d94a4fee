package io.blockmover.mover.cli;

import io.blockmover.index.repo.InitOptions;
import io.blockmover.index.repo.Repository;
import io.blockmover.mover.api.v1.BackupMode;
import io.blockmover.mover.api.v1.BackupProxyGrpc;
import io.blockmover.mover.api.v1.BackupRequest;
import io.blockmover.mover.api.v1.DiskSource;
import io.blockmover.mover.api.v1.Job;
import io.blockmover.mover.api.v1.JobRef;
import io.blockmover.mover.api.v1.JobState;
import io.blockmover.mover.api.v1.ListBackupsRequest;
import io.blockmover.mover.api.v1.ListJobsRequest;
import io.blockmover.mover.api.v1.VerifyRequest;
import io.blockmover.nbd.esx.EsxSimulator;
import io.blockmover.nbd.esx.HostSpec;
import io.blockmover.nbd.esx.Profile;
import io.blockmover.nbd.esx.Snapshot;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A real {@code blockmover serve} killed with SIGKILL in the middle of a backup, then started
 * again: the job reads as failed with its reason, nothing of it is visible, the proxy goes on.
 * The whole run is logged at debug level, and neither the token nor the repository's passphrase
 * appears anywhere: in the logs of both processes, the metrics, the jobs or the refusals.
 */
class ProxyRestartTest {
    private static final Pattern ADDRESS = Pattern.compile("blockmover proxy: grpc 127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern METRICS = Pattern.compile("metrics http://127\\.0\\.0\\.1:(\\d+)/metrics");
    private static final String TOKEN = "tok-7c1e9a4f2b8d3e6051a2";
    private static final String PASSPHRASE = "pass-5e8b2d7f1a9c4e3b60";

    @TempDir
    Path dir;

    /** A child proxy and everything it printed. */
    private record Proxy(Process process, int port, int metricsPort, StringBuffer output) {}

    private Proxy start(Path repo, Path tokens) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "serve", "--debug", "--repo", repo.toString(), "--listen", "127.0.0.1:0",
                "--token-file", tokens.toString(), "--metrics", "0", "--allow-source", "127.0.0.1:*").redirectErrorStream(true);
        pb.environment().put(RepositoryOptions.PASSPHRASE_ENV, PASSPHRASE);
        Process p = pb.start();
        StringBuffer output = new StringBuffer();
        CompletableFuture<int[]> ready = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            int port = -1;
            int metrics = -1;
            try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = out.readLine()) != null; ) {
                    output.append(line).append('\n');
                    Matcher m = ADDRESS.matcher(line);
                    if (m.find()) {
                        port = Integer.parseInt(m.group(1));
                    }
                    Matcher mm = METRICS.matcher(line);
                    if (mm.find()) {
                        metrics = Integer.parseInt(mm.group(1));
                    }
                    if (line.equals("ready")) {
                        ready.complete(new int[] {port, metrics});
                    }
                }
            } catch (java.io.IOException e) {
                ready.completeExceptionally(e);
            }
            ready.completeExceptionally(new AssertionError("the proxy exited before it was ready:\n" + output));
        });
        int[] ports = ready.get(120, TimeUnit.SECONDS);
        return new Proxy(p, ports[0], ports[1], output);
    }

    private static CallCredentials bearer(String token) {
        return new CallCredentials() {
            @Override
            public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
                Metadata m = new Metadata();
                m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
                applier.apply(m);
            }
        };
    }

    @Test
    void aKilledProxyReportsTheJobFailedLeavesNothingAndNeverLogsASecret() throws Exception {
        Path repo = dir.resolve("repo");
        Repository.init(repo, InitOptions.defaults().withPassphrase(PASSPHRASE.toCharArray(), 10_000)).close();
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, "operator " + TOKEN + "\n");
        List<String> seen = new ArrayList<>();
        try (EsxSimulator sim = EsxSimulator.start(EsxSimulator.Options.plain(new HostSpec(5, 1, 1, 32L << 20, Profile.RANDOM, true)))) {
            Snapshot s1 = sim.host().requireVm("vm01").createSnapshot("s1");
            BackupRequest backup = BackupRequest.newBuilder().setVm("vm01").setMode(BackupMode.BACKUP_MODE_FULL).addDisks(
                    DiskSource.newBuilder().setDisk("disk-2000").setUri("nbd://127.0.0.1:" + sim.nbdAddress().getPort()
                            + "/vm01/disk-2000@s1").setChangeId(s1.disks().getFirst().changeId().orElseThrow().toString())).build();
            sim.faults().rateLimit(4L << 20); // a backup of many seconds: the kill lands in the middle

            Proxy first = start(repo, tokens);
            String killed;
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", first.port()).usePlaintext().build();
            try {
                var proxy = BackupProxyGrpc.newBlockingStub(channel).withCallCredentials(bearer(TOKEN)).withDeadlineAfter(2, TimeUnit.MINUTES);
                killed = proxy.submitBackup(backup).getId();
                Iterator<Job> watch = proxy.watchJob(JobRef.newBuilder().setId(killed).build());
                Job running;
                do {
                    running = watch.next();
                    seen.add(running.toString());
                } while (running.getDoneBytes() == 0 || running.getState() != JobState.JOB_STATE_RUNNING);
                first.process().destroyForcibly(); // SIGKILL: no shutdown hook, no goodbye
                assertTrue(first.process().waitFor(60, TimeUnit.SECONDS));
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
            sim.faults().clear();

            Proxy second = start(repo, tokens);
            ManagedChannel again = NettyChannelBuilder.forAddress("127.0.0.1", second.port()).usePlaintext().build();
            String metrics;
            try {
                var proxy = BackupProxyGrpc.newBlockingStub(again).withCallCredentials(bearer(TOKEN)).withDeadlineAfter(2, TimeUnit.MINUTES);
                Job after = proxy.getJob(JobRef.newBuilder().setId(killed).build());
                seen.add(after.toString());
                assertEquals(JobState.JOB_STATE_FAILED, after.getState(), after.toString());
                assertEquals(Status.Code.ABORTED.value(), after.getErrorCode());
                assertTrue(after.getErrorMessage().contains("killed or crashed"), after.getErrorMessage());
                assertEquals(0, proxy.listBackups(ListBackupsRequest.getDefaultInstance()).getBackupsCount(), "nothing of it is visible");

                String next = proxy.submitBackup(backup).getId();
                assertFalse(next.equals(killed), "job ids are not reused across restarts");
                Job done = last(proxy.watchJob(JobRef.newBuilder().setId(next).build()), seen);
                assertEquals(JobState.JOB_STATE_SUCCEEDED, done.getState(), done.toString());
                Job verified = last(proxy.watchJob(proxy.submitVerify(VerifyRequest.newBuilder()
                        .setBackupId(done.getBackup().getBackupId()).build())), seen);
                assertTrue(verified.getVerify().getOk(), verified.toString());
                proxy.listJobs(ListJobsRequest.getDefaultInstance()).getJobsList().forEach(j -> seen.add(j.toString()));

                StatusRuntimeException wrong = assertThrows(StatusRuntimeException.class, () -> BackupProxyGrpc.newBlockingStub(again)
                        .withCallCredentials(bearer(TOKEN.substring(1) + "x")).listJobs(ListJobsRequest.getDefaultInstance()));
                assertEquals(Status.Code.UNAUTHENTICATED, wrong.getStatus().getCode());
                seen.add(wrong.getStatus().toString());
                try (HttpClient http = HttpClient.newHttpClient()) {
                    metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + second.metricsPort() + "/metrics")).build(),
                            HttpResponse.BodyHandlers.ofString()).body();
                }
                assertTrue(metrics.contains("blockmover_jobs_total{kind=\"backup\",state=\"succeeded\"}"), metrics);
            } finally {
                again.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                second.process().destroy();
                second.process().waitFor(60, TimeUnit.SECONDS);
            }

            String everything = first.output() + "\n" + second.output() + "\n" + metrics + "\n" + String.join("\n", seen);
            assertTrue(first.output().toString().contains("DEBUG"), "the run logged at debug level:\n" + first.output());
            for (String secret : List.of(TOKEN, TOKEN.substring(1) + "x", PASSPHRASE)) {
                List<String> leaks = everything.lines().filter(l -> l.contains(secret)).map(l -> l.replace(secret, "<SECRET>")).toList();
                assertTrue(leaks.isEmpty(), "a secret leaked into the run's logs, metrics or jobs:\n" + String.join("\n", leaks));
            }
        }
    }

    private static Job last(Iterator<Job> stream, List<String> seen) {
        Job last = null;
        while (stream.hasNext()) {
            last = stream.next();
            seen.add(last.toString());
        }
        return last;
    }
}
