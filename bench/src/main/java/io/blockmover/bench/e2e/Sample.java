package io.blockmover.bench.e2e;

/**
 * One timed run of a command: wall time, peak resident memory, CPU time (user + system) and the CPU
 * time the NBD server it read from spent meanwhile (0 when it read no server of ours to watch):
 * a backup over NBD makes its server work too, a backup of a file does not.
 */
record Sample(double seconds, long maxRssKiB, double cpuSeconds, double serverCpuSeconds) {
    Sample(double seconds, long maxRssKiB, double cpuSeconds) {
        this(seconds, maxRssKiB, cpuSeconds, 0);
    }

    Sample withServerCpu(double serverCpu) {
        return new Sample(seconds, maxRssKiB, cpuSeconds, serverCpu);
    }
}
