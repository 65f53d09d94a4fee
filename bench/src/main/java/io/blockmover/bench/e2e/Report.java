package io.blockmover.bench.e2e;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Locale;

/** Prints the measurements as a table and writes them as JSON for run-to-run comparison. */
final class Report {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** "ours is N× faster than peer" for one pair of steps over the same data. */
    record Ratio(String label, Measurement ours, Measurement peer) {
        double speedup() {
            return peer.medianSeconds() / ours.medianSeconds();
        }
    }

    /** "ours is N× the size of peer's" for the repositories two steps left behind. */
    record SizeRatio(String label, Measurement ours, Measurement peer) {
        double ratio() {
            return ours.repositoryBytes().orElseThrow() / (double) peer.repositoryBytes().orElseThrow();
        }
    }

    private final String image;
    private final List<Measurement> measurements;
    private final List<Ratio> ratios;
    private final List<SizeRatio> sizeRatios;
    private final String load;

    Report(String image, List<Measurement> measurements, List<Ratio> ratios) {
        this(image, measurements, ratios, List.of(), Load.now());
    }

    Report(String image, List<Measurement> measurements, List<Ratio> ratios, List<SizeRatio> sizeRatios, String load) {
        this.image = image;
        this.measurements = measurements;
        this.ratios = ratios;
        this.sizeRatios = sizeRatios;
        this.load = load;
    }

    void printTable(PrintStream out) {
        out.printf(Locale.ROOT, "%nimage: %s%n", image);
        out.printf(Locale.ROOT, "load while measuring: %s%n", load);
        out.printf(Locale.ROOT, "%-38s %-30s %9s %9s %9s %9s %9s %10s %10s%n",
                "step", "tool", "median s", "MB/s", "CPU s", "srv CPU s", "CPU s/GiB", "peak RSS", "repo MiB");
        for (Measurement m : measurements) {
            out.printf(Locale.ROOT, "%-38s %-30s %9.2f %9.0f %9.2f %9.2f %9.2f %7d MiB %10s%n",
                    m.step(), m.tool(), m.medianSeconds(), m.megabytesPerSecond(), m.medianCpuSeconds(),
                    m.medianServerCpuSeconds(), m.cpuSecondsPerGiB(), m.peakRssKiB() / 1024,
                    m.repositoryBytes().isPresent() ? String.format(Locale.ROOT, "%.0f", m.repositoryBytes().getAsLong() / 1048576.0) : "-");
        }
        if (!ratios.isEmpty() || !sizeRatios.isEmpty()) {
            out.println();
            for (Ratio r : ratios) {
                out.printf(Locale.ROOT, "%-100s %6.2fx%n", r.label(), r.speedup());
            }
            for (SizeRatio r : sizeRatios) {
                out.printf(Locale.ROOT, "%-100s %6.3fx%n", r.label(), r.ratio());
            }
        }
    }

    void writeJson(Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode().put("time", Instant.now().toString()).put("image", image)
                .put("cores", Runtime.getRuntime().availableProcessors()).put("load", load);
        ArrayNode rows = root.putArray("measurements");
        for (Measurement m : measurements) {
            ObjectNode row = rows.addObject().put("step", m.step()).put("tool", m.tool()).put("logicalBytes", m.logicalBytes())
                    .put("dataBytes", m.dataBytes())
                    .put("medianSeconds", rounded(m.medianSeconds(), 3)).put("mbPerSecond", rounded(m.megabytesPerSecond(), 1))
                    .put("medianCpuSeconds", rounded(m.medianCpuSeconds(), 3))
                    .put("medianServerCpuSeconds", rounded(m.medianServerCpuSeconds(), 3))
                    .put("cpuSecondsPerGiB", rounded(m.cpuSecondsPerGiB(), 3)).put("peakRssKiB", m.peakRssKiB());
            if (m.repositoryBytes().isPresent()) {
                row.put("repositoryBytes", m.repositoryBytes().getAsLong());
            } else {
                row.putNull("repositoryBytes");
            }
            ArrayNode seconds = row.putArray("seconds");
            m.samples().forEach(sample -> seconds.add(rounded(sample.seconds(), 3)));
        }
        ArrayNode ratioRows = root.putArray("ratios");
        for (Ratio r : ratios) {
            ratioRows.addObject().put("label", r.label()).put("speedup", rounded(r.speedup(), 3));
        }
        ArrayNode sizeRows = root.putArray("sizeRatios");
        for (SizeRatio r : sizeRatios) {
            sizeRows.addObject().put("label", r.label()).put("ratio", rounded(r.ratio(), 3));
        }
        Files.createDirectories(file.getParent());
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
    }

    /** Measurements carry no more digits than they are worth. */
    private static BigDecimal rounded(double v, int decimals) {
        return BigDecimal.valueOf(v).setScale(decimals, RoundingMode.HALF_UP);
    }
}
