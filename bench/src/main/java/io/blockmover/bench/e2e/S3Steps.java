package io.blockmover.bench.e2e;

import io.blockmover.index.s3.S3ProxyServer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The repository in an object store: s3proxy (a real S3 server, filesystem backend) on loopback,
 * started here and kept for the whole group. The same full backup, 1% incremental and restore as
 * the local-repository steps, into a bucket, two ways: by the command-line tool (a fresh JVM per
 * job, which pays the S3 client's start-up every time) and through a warm proxy
 * ({@code blockmover serve}, as a fleet runs, beside the same proxy on a local repository); and
 * restic's restore of the same image from a restic repository on the same s3proxy. Every sample's
 * CPU includes s3proxy's own over the step: it runs on the same cores. Requests per GiB stored
 * come from the backups' own {@code --json} counts of the requests they sent.
 */
final class S3Steps implements AutoCloseable {
    static final String TOOL = "blockmover -> s3proxy";
    static final String PROXY_TOOL = "blockmover serve (warm proxy) -> s3proxy";
    static final String RESTIC = "restic 0.14 <- s3proxy";
    private static final Pattern REQUESTS = Pattern.compile("\"(put|get|list|delete)\": (\\d+)");
    private static final Pattern STORED = Pattern.compile("\"stored\": (\\d+)");

    /** Requests the full and the incremental backups sent, per GiB they stored. */
    record Cost(long fullRequests, long fullStored, long incrementalRequests, long incrementalStored) {
        double fullPerGiB() {
            return fullRequests / (fullStored / 1073741824.0);
        }

        double incrementalPerGiB() {
            return incrementalRequests / (incrementalStored / 1073741824.0);
        }
    }

    private final String bm;
    private final Processes processes;
    private final Path work;
    private final S3ProxyServer s3;
    private Cost cost;

    private S3Steps(String bm, Processes processes, Path work, S3ProxyServer s3) {
        this.bm = bm;
        this.processes = processes;
        this.work = work;
        this.s3 = s3;
    }

    /**
     * Starts s3proxy with the JVM's default compilers, as a server that runs for days would be (the
     * tests start it C1-only, for a quick start).
     */
    static S3Steps start(String bm, Processes processes, Path work) throws IOException, InterruptedException {
        Path dir = work.resolve("s3proxy");
        Bench.delete(dir);
        return new S3Steps(bm, processes, work, S3ProxyServer.start(dir, false, List.of("-Xmx512m")));
    }

    Cost cost() {
        return cost;
    }

    private List<String> repo(String prefix, Path cache) {
        return List.of("--repo", "s3://bench/" + prefix, "--s3-endpoint", s3.endpoint().toString(),
                "--s3-credentials-file", s3.credentialsFile().toString(), "--s3-proxy-id", "bench", "--cache-dir", cache.toString());
    }

    /** The command-line tool's full, incremental and restore into the bucket, and restic's restore from the same server. */
    List<Measurement> cli(String fullUri, String fullChange, String incrementalUri, String incrementalChange, Path image, int runs,
                          long logical, String fullStep, String incrementalStep, String restoreStep) throws Exception {
        List<Measurement> out = new ArrayList<>();
        // An object store in service is warm: s3proxy, a JVM, gets an untimed backup and restore
        // first, or the first steps would pay its JIT's warm-up (and restic, which restores last, not).
        Path warmCache = work.resolve("s3-warmup-cache");
        List<String> warm = repo("warmup", warmCache);
        Path warmRestored = work.resolve("s3-warmup.raw");
        processes.run(cli(warm, "init"));
        processes.run(cli(warm, "backup", "--full", "--source", fullUri, "--name", "warmup/disk0", "--no-progress"));
        processes.run(cli(warm, "restore", "--to", warmRestored.toString(), "--no-progress"));
        Files.deleteIfExists(warmRestored);
        Bench.delete(s3.dataDir().resolve("bench").resolve("warmup"));
        Bench.delete(warmCache);
        Path cache = work.resolve("s3-cache");
        Path bucket = s3.dataDir().resolve("bench").resolve("ref");
        List<String> repo = repo("ref", cache);
        Path fullJson = work.resolve("s3-full.json");
        Path incrementalJson = work.resolve("s3-incremental.json");
        Path restored = work.resolve("s3-restored.raw");
        out.add(measure(new Step(fullStep, TOOL, () -> {
            Bench.delete(bucket);
            Bench.delete(cache);
            processes.run(cli(repo, "init"));
        }, json(cli(repo, "backup", "--full", "--source", fullUri, "--name", "ref/disk0", "--change-id", fullChange,
                "--no-progress", "--json"), fullJson), Optional.of(bucket)), runs, logical));
        String full = Files.readString(fullJson);
        out.add(measure(new Step(incrementalStep, TOOL, Step.Preparation.NONE,
                json(cli(repo, "backup", "--incremental", "--source", incrementalUri, "--name", "ref/disk0",
                        "--change-id", incrementalChange, "--changes", fullChange, "--no-progress", "--json"), incrementalJson),
                Optional.empty()), runs, logical));
        String incremental = Files.readString(incrementalJson);
        cost = new Cost(requests(full), stored(full), requests(incremental), stored(incremental));
        out.add(measure(new Step(restoreStep, TOOL, () -> Files.deleteIfExists(restored),
                cli(repo, "restore", "--to", restored.toString(), "--no-progress"), Optional.empty()), runs, logical));
        Files.deleteIfExists(restored);

        // restic's repository in the same server, the image backed up once (untimed).
        Map<String, String> env = Map.of("RESTIC_PASSWORD", "bench", "AWS_ACCESS_KEY_ID", S3ProxyServer.IDENTITY,
                "AWS_SECRET_ACCESS_KEY", S3ProxyServer.CREDENTIAL);
        String resticRepo = "s3:" + s3.endpoint() + "/restic/repo";
        processes.run(ToolRun.of("restic", "init", "-q", "-r", resticRepo).withEnv(env));
        processes.run(ToolRun.of("restic", "backup", "-q", "-r", resticRepo, image.toString()).withEnv(env));
        Path target = work.resolve("restic-restored");
        out.add(measure(new Step(restoreStep, RESTIC, () -> Bench.delete(target),
                ToolRun.of("restic", "restore", "-q", "-r", resticRepo, "latest", "--target", target.toString()).withEnv(env),
                Optional.empty()), runs, logical));
        Bench.delete(target);
        return out;
    }

    /** The warm proxy's full, incremental and restore with its repository in the bucket, run as {@link ProxySteps} runs them locally. */
    List<Measurement> proxy(List<ProxySteps.Disk> warmups, ProxySteps.Disk full, ProxySteps.Disk incremental, int runs, long logical,
                            String fullStep, String incrementalStep, String restoreStep) throws Exception {
        Path cache = work.resolve("s3-proxy-cache");
        Path bucket = s3.dataDir().resolve("bench").resolve("proxy");
        ProxySteps.Repo repo = new ProxySteps.Repo(PROXY_TOOL, repo("proxy", cache), () -> {
            Bench.delete(bucket);
            Bench.delete(cache);
        }, bucket, List.of(s3.pid()));
        return new ProxySteps(bm, processes, work, repo, List.of(), ServerCpu.NONE).measure(warmups, full, incremental, runs, logical, fullStep, incrementalStep,
                restoreStep);
    }

    /** Like {@link Bench#measure}, with s3proxy's CPU over each run added to the tool's. */
    private Measurement measure(Step step, int runs, long logical) throws Exception {
        System.err.printf("measuring %s with %s (%d run%s, %s)%n", step.step(), step.tool(), runs, runs == 1 ? "" : "s", Load.now());
        List<Sample> samples = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            step.prepare().run();
            double before = ProxySteps.cpuSeconds(List.of(s3.pid()));
            Sample s = processes.timed(step.command());
            double server = ProxySteps.cpuSeconds(List.of(s3.pid())) - before;
            samples.add(new Sample(s.seconds(), s.maxRssKiB(), s.cpuSeconds() + server));
        }
        OptionalLong stored = step.repository().map(p -> OptionalLong.of(Bench.sizeOf(p))).orElse(OptionalLong.empty());
        return new Measurement(step.step(), step.tool(), logical, samples, stored);
    }

    private ToolRun cli(List<String> repo, String command, String... args) {
        List<String> argv = new ArrayList<>(List.of(bm, command));
        argv.addAll(repo);
        argv.addAll(List.of(args));
        return new ToolRun(argv, Map.of());
    }

    /** The command with its stdout (the --json report) kept in {@code file}; the shell costs nothing measurable. */
    private static ToolRun json(ToolRun command, Path file) {
        StringBuilder sh = new StringBuilder("exec");
        for (String a : command.argv()) {
            sh.append(" '").append(a.replace("'", "'\\''")).append('\'');
        }
        sh.append(" > '").append(file).append('\'');
        return new ToolRun(List.of("bash", "-c", sh.toString()), command.env());
    }

    private static long requests(String json) throws IOException {
        Matcher m = REQUESTS.matcher(json);
        long n = 0;
        boolean found = false;
        while (m.find()) {
            n += Long.parseLong(m.group(2));
            found = true;
        }
        if (!found) {
            throw new IOException("no objectStoreRequests in the backup's --json report: " + json);
        }
        return n;
    }

    private static long stored(String json) {
        Matcher m = STORED.matcher(json);
        long n = 0;
        while (m.find()) {
            n += Long.parseLong(m.group(1));
        }
        return n;
    }

    @Override
    public void close() throws InterruptedException {
        s3.close();
    }
}
