package io.blockmover.bench.e2e;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * The end-to-end benchmark: blockmover against the tools people use instead, on the same image
 * in the same run. Every tool reads the same data; ratios are the headline because absolute
 * times vary between machines.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure blockmover against nbdcopy, restic and borg on the reference image.")
public final class Bench implements Callable<Integer> {

    private static final Map<String, String> RESTIC_ENV = Map.of("RESTIC_PASSWORD", "bench");
    private static final Map<String, String> BORG_ENV = Map.of(
            "BORG_PASSPHRASE", "bench",
            "BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes",
            "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes");

    @Option(names = "--ci", description = "Small image, one run each: the CI smoke benchmark.")
    boolean ci;

    @Option(names = "--runs", description = "Runs of each step; the median is reported (default: 3, 1 with --ci).")
    Integer runs;

    @Option(names = "--work", description = "Scratch directory for images and repositories (default: ${DEFAULT-VALUE}).",
            defaultValue = "${java.io.tmpdir}/blockmover-bench")
    Path work;

    @Option(names = "--results", description = "Where the JSON result goes (default: <home>/bench/results).")
    Path results;

    private final Path home = Path.of(System.getProperty("blockmover.home", ".")).toAbsolutePath().normalize();

    public static void main(String[] args) {
        System.exit(new CommandLine(new Bench()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        int n = runs != null ? runs : ci ? 1 : 3;
        Files.createDirectories(work);
        Processes processes = new Processes(work);
        Path image = makeImage(processes);
        long logical = Files.size(image);

        List<Measurement> measured = new ArrayList<>();
        try (PeerExport export = PeerExport.serve(image, "ref")) {
            for (Step step : steps(export.uri("ref"), image)) {
                System.err.printf("measuring %s with %s (%d run%s)%n", step.step(), step.tool(), n, n == 1 ? "" : "s");
                measured.add(measure(processes, step, n, logical));
            }
        }
        Report report = new Report(image.getFileName() + " (" + logical / 1048576 + " MiB)", measured, List.of());
        report.printTable(System.out);
        Path out = (results != null ? results : home.resolve("bench/results"))
                .resolve((ci ? "ci-" : "") + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + ".json");
        report.writeJson(out);
        System.out.println("\nresults: " + out);
        return 0;
    }

    private Path makeImage(Processes processes) throws IOException, InterruptedException {
        Path image = work.resolve(ci ? "reference-256M.raw" : "reference-2G.raw");
        if (!Files.exists(image)) {
            System.err.println("building " + image);
            ToolRun make = ci
                    ? ToolRun.of(home.resolve("bench/scripts/make-image.sh").toString(), "256", image.toString())
                    : ToolRun.of(home.resolve("../shared/bench/make-reference-image.sh").normalize().toString(), image.toString());
            processes.run(make);
        }
        return image;
    }

    private List<Step> steps(String uri, Path image) {
        Path copy = work.resolve("copy.raw");
        Path restic = work.resolve("restic-repo");
        Path borg = work.resolve("borg-repo");
        return List.of(
                new Step("read export -> null", "nbdcopy", Step.Preparation.NONE,
                        ToolRun.of("nbdcopy", uri, "null:"), Optional.empty()),
                new Step("read export -> file", "nbdcopy", () -> Files.deleteIfExists(copy),
                        ToolRun.of("nbdcopy", uri, copy.toString()), Optional.empty()),
                new Step("full backup (image as a file)", "restic 0.14", () -> {
                    delete(restic);
                    new Processes(work).run(ToolRun.of("restic", "init", "-q", "-r", restic.toString()).withEnv(RESTIC_ENV));
                }, ToolRun.of("restic", "backup", "-q", "-r", restic.toString(), image.toString()).withEnv(RESTIC_ENV),
                        Optional.of(restic)),
                new Step("full backup (image as a file)", "borg 1.2", () -> {
                    delete(borg);
                    new Processes(work).run(ToolRun.of("borg", "init", "-e", "repokey", borg.toString()).withEnv(BORG_ENV));
                }, ToolRun.of("borg", "create", borg + "::a", image.toString()).withEnv(BORG_ENV), Optional.of(borg)));
    }

    private static Measurement measure(Processes processes, Step step, int runs, long logical) throws Exception {
        List<Sample> samples = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            step.prepare().run();
            samples.add(processes.timed(step.command()));
        }
        OptionalLong repo = step.repository().map(p -> OptionalLong.of(sizeOf(p))).orElse(OptionalLong.empty());
        return new Measurement(step.step(), step.tool(), logical, samples, repo);
    }

    private static long sizeOf(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).sum();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void delete(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
