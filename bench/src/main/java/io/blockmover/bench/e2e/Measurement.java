package io.blockmover.bench.e2e;

import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;

/**
 * Repeated samples of one benchmark step over {@code logicalBytes} of disk ({@code dataBytes} of it
 * allocated), with the size of the repository it left behind where it makes one. Medians are
 * reported: a 2-core machine shared with other work produces outliers that a mean would carry.
 */
record Measurement(String step, String tool, long logicalBytes, long dataBytes, List<Sample> samples,
                   OptionalLong repositoryBytes) {

    Measurement(String step, String tool, long logicalBytes, List<Sample> samples, OptionalLong repositoryBytes) {
        this(step, tool, logicalBytes, logicalBytes, samples, repositoryBytes);
    }

    double medianSeconds() {
        return median(samples.stream().mapToDouble(Sample::seconds).toArray());
    }

    double megabytesPerSecond() {
        return logicalBytes / 1e6 / medianSeconds();
    }

    long peakRssKiB() {
        return samples.stream().mapToLong(Sample::maxRssKiB).max().orElse(0);
    }

    double medianCpuSeconds() {
        return median(samples.stream().mapToDouble(Sample::cpuSeconds).toArray());
    }

    double medianServerCpuSeconds() {
        return median(samples.stream().mapToDouble(Sample::serverCpuSeconds).toArray());
    }

    /**
     * CPU-seconds per GiB of allocated data, the tool's own plus its NBD server's: the figure
     * the other work on a shared machine disturbs least (it stretches wall time, not CPU time).
     */
    double cpuSecondsPerGiB() {
        return (medianCpuSeconds() + medianServerCpuSeconds()) / (dataBytes / (double) (1L << 30));
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
}
