package io.blockmover.bench.e2e;

import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;

/**
 * Repeated samples of one benchmark step over {@code logicalBytes} of disk, with the size of
 * the repository it left behind where it makes one. Medians are reported: a 2-core machine
 * shared with other work produces outliers that a mean would carry.
 */
record Measurement(String step, String tool, long logicalBytes, List<Sample> samples, OptionalLong repositoryBytes) {

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

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
}
