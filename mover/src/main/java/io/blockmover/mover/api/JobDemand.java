package io.blockmover.mover.api;

import java.util.Map;

/**
 * What a job holds while it runs, counted against {@link JobLimits}: disks, and NBD connections
 * per host (a host is {@code host:port}, or the socket path of a Unix-domain URI).
 */
record JobDemand(int disks, Map<String, Integer> connectionsByHost) {
    static final JobDemand NONE = new JobDemand(0, Map.of());

    JobDemand {
        connectionsByHost = Map.copyOf(connectionsByHost);
    }
}
