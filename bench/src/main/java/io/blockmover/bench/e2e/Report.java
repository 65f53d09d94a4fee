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

    /** A rate measured by the tool itself (fio's IOPS), one value per run; the median is reported. */
    record Rate(String step, String tool, String unit, List<Double> values) {
        double median() {
            double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            int n = v.length;
            return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
        }
    }

    /** "ours reaches N× the peer's rate" for two rates of the same step. */
    record RateRatio(String label, Rate ours, Rate peer) {
        double ratio() {
            return ours.median() / peer.median();
        }
    }

    /** A number that is not a time: what a step cost in requests, say. */
    record Figure(String label, double value, String unit) {
    }

    /** "ours is N× the size of peer's" for the repositories two steps left behind. */
    record SizeRatio(String label, Measurement ours, Measurement peer) {
        double ratio() {
            return ours.repositoryBytes().orElseThrow() / (double) peer.repositoryBytes().orElseThrow();
        }
    }

    private final String image;
    private final String phases;
    private final String load;
    private final List<Measurement> measurements;
    private final List<Ratio> ratios;
    private final List<Rate> rates;
    private final List<RateRatio> rateRatios;
    private final List<Figure> figures;
    private final List<SizeRatio> sizeRatios;

    /**
     * {@code phases}: the bench phases that ran (a JSON without a phase did not measure it);
     * {@code load}: the machine's load average as each phase began and at the end.
     */
    Report(String image, String phases, String load, List<Measurement> measurements, List<Ratio> ratios, List<Rate> rates,
           List<RateRatio> rateRatios, List<Figure> figures, List<SizeRatio> sizeRatios) {
        this.image = image;
        this.phases = phases;
        this.load = load;
        this.measurements = measurements;
        this.ratios = ratios;
        this.rates = rates;
        this.rateRatios = rateRatios;
        this.figures = figures;
        this.sizeRatios = sizeRatios;
    }

    void printTable(PrintStream out) {
        out.printf(Locale.ROOT, "%nimage: %s%n", image);
        out.printf(Locale.ROOT, "phases: %s%n", phases);
        out.printf(Locale.ROOT, "load while measuring: %s%n", load);
        out.printf(Locale.ROOT, "%-38s %-30s %9s %9s %9s %9s %9s %10s %10s%n",
                "step", "tool", "median s", "MB/s", "CPU s", "srv CPU s", "CPU s/GiB", "peak RSS", "repo MiB");
        for (Measurement m : measurements) {
            out.printf(Locale.ROOT, "%-38s %-30s %9.2f %9.0f %9.2f %9.2f %9.2f %7d MiB %10s%n",
                    m.step(), m.tool(), m.medianSeconds(), m.megabytesPerSecond(), m.medianCpuSeconds(),
                    m.medianServerCpuSeconds(), m.cpuSecondsPerGiB(), m.peakRssKiB() / 1024,
                    m.repositoryBytes().isPresent() ? String.format(Locale.ROOT, "%.0f", m.repositoryBytes().getAsLong() / 1048576.0) : "-");
        }
        for (Rate r : rates) {
            out.printf(Locale.ROOT, "%-70s %-32s %10.0f %s%n", r.step(), r.tool(), r.median(), r.unit());
        }
        if (!ratios.isEmpty() || !rateRatios.isEmpty() || !sizeRatios.isEmpty()) {
            out.println();
            for (Ratio r : ratios) {
                out.printf(Locale.ROOT, "%-100s %6.2fx%n", r.label(), r.speedup());
            }
            for (SizeRatio r : sizeRatios) {
                out.printf(Locale.ROOT, "%-100s %6.3fx%n", r.label(), r.ratio());
            }
            for (RateRatio r : rateRatios) {
                out.printf(Locale.ROOT, "%-100s %6.2fx%n", r.label(), r.ratio());
            }
        }
        if (!figures.isEmpty()) {
            out.println();
            for (Figure f : figures) {
                out.printf(Locale.ROOT, "%-60s %8.1f %s%n", f.label(), f.value(), f.unit());
            }
        }
    }

    void writeJson(Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode().put("time", Instant.now().toString()).put("image", image)
                .put("phases", phases).put("load", load).put("cores", Runtime.getRuntime().availableProcessors());
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
        ArrayNode rateRows = root.putArray("rates");
        for (Rate r : rates) {
            ObjectNode row = rateRows.addObject().put("step", r.step()).put("tool", r.tool()).put("unit", r.unit())
                    .put("median", rounded(r.median(), 1));
            ArrayNode values = row.putArray("values");
            r.values().forEach(v -> values.add(rounded(v, 1)));
        }
        ArrayNode rateRatioRows = root.putArray("rateRatios");
        for (RateRatio r : rateRatios) {
            rateRatioRows.addObject().put("label", r.label()).put("ratio", rounded(r.ratio(), 3));
        }
        ArrayNode figureRows = root.putArray("figures");
        for (Figure f : figures) {
            figureRows.addObject().put("label", f.label()).put("value", rounded(f.value(), 1)).put("unit", f.unit());
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
