package io.blockmover.bench.e2e;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/** Prints the measurements as a table and writes them as JSON for run-to-run comparison. */
final class Report {

    /** "ours is N× faster than peer" for one pair of steps over the same data. */
    record Ratio(String label, Measurement ours, Measurement peer) {
        double speedup() {
            return peer.medianSeconds() / ours.medianSeconds();
        }
    }

    private final String image;
    private final List<Measurement> measurements;
    private final List<Ratio> ratios;

    Report(String image, List<Measurement> measurements, List<Ratio> ratios) {
        this.image = image;
        this.measurements = measurements;
        this.ratios = ratios;
    }

    void printTable(PrintStream out) {
        out.printf(Locale.ROOT, "%nimage: %s%n", image);
        out.printf(Locale.ROOT, "%-34s %-22s %9s %9s %9s %10s %10s%n",
                "step", "tool", "median s", "MB/s", "CPU s", "peak RSS", "repo MiB");
        for (Measurement m : measurements) {
            out.printf(Locale.ROOT, "%-34s %-22s %9.2f %9.0f %9.2f %7d MiB %10s%n",
                    m.step(), m.tool(), m.medianSeconds(), m.megabytesPerSecond(), m.medianCpuSeconds(),
                    m.peakRssKiB() / 1024,
                    m.repositoryBytes().isPresent() ? String.format(Locale.ROOT, "%.0f", m.repositoryBytes().getAsLong() / 1048576.0) : "-");
        }
        if (!ratios.isEmpty()) {
            out.println();
            for (Ratio r : ratios) {
                out.printf(Locale.ROOT, "%-60s %6.2fx%n", r.label(), r.speedup());
            }
        }
    }

    void writeJson(Path file) throws IOException {
        String rows = measurements.stream().map(m -> String.format(Locale.ROOT,
                "    {\"step\": %s, \"tool\": %s, \"logicalBytes\": %d, \"medianSeconds\": %.3f, \"mbPerSecond\": %.1f, "
                        + "\"medianCpuSeconds\": %.3f, \"peakRssKiB\": %d, \"repositoryBytes\": %s, \"seconds\": %s}",
                quote(m.step()), quote(m.tool()), m.logicalBytes(), m.medianSeconds(), m.megabytesPerSecond(),
                m.medianCpuSeconds(), m.peakRssKiB(),
                m.repositoryBytes().isPresent() ? Long.toString(m.repositoryBytes().getAsLong()) : "null",
                m.samples().stream().map(s -> String.format(Locale.ROOT, "%.3f", s.seconds()))
                        .collect(Collectors.joining(", ", "[", "]"))))
                .collect(Collectors.joining(",\n"));
        String ratioRows = ratios.stream().map(r -> String.format(Locale.ROOT, "    {\"label\": %s, \"speedup\": %.3f}",
                quote(r.label()), r.speedup())).collect(Collectors.joining(",\n"));
        String json = "{\n  \"time\": " + quote(Instant.now().toString()) + ",\n  \"image\": " + quote(image)
                + ",\n  \"cores\": " + Runtime.getRuntime().availableProcessors()
                + ",\n  \"measurements\": [\n" + rows + "\n  ],\n  \"ratios\": [\n" + ratioRows + "\n  ]\n}\n";
        Files.createDirectories(file.getParent());
        Files.writeString(file, json);
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
