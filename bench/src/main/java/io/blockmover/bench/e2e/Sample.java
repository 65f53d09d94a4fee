package io.blockmover.bench.e2e;

/** One timed run of a command: wall time, peak resident memory and CPU time (user + system). */
record Sample(double seconds, long maxRssKiB, double cpuSeconds) {}
