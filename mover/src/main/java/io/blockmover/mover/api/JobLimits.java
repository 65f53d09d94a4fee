package io.blockmover.mover.api;

/**
 * What the proxy lets run at once, from {@code serve}'s flags or the config file's {@code serve:}
 * section. A job starts only when it fits under all of them, in the order jobs were submitted.
 *
 * @param jobs               jobs running at once
 * @param disks              disks being read or written at once, over all running jobs
 * @param connectionsPerHost NBD connections open at once to one source host (for VMware: NFC
 *                           connections, which an ESXi host caps for everyone; see {@link #DEFAULT_CONNECTIONS_PER_HOST})
 * @param queue              jobs waiting beyond the running ones; a submission beyond it is refused
 */
public record JobLimits(int jobs, int disks, int connectionsPerHost, int queue) {
    /**
     * An ESXi host shares 48 MB of NFC buffers (vSphere 6.x and later; 32 MB in 5.x) among every
     * NFC session to it, about 48 concurrent 1 MB streams, and vCenter caps all NFC connections it
     * brokers at 52; vSphere 4 allowed 11 direct connections. Other backup products, clones and
     * migrations draw from the same pool, so the proxy takes 8 per host unless told otherwise.
     */
    public static final int DEFAULT_CONNECTIONS_PER_HOST = 8;

    public static final JobLimits DEFAULT = new JobLimits(2, 16, DEFAULT_CONNECTIONS_PER_HOST, 1000);

    public JobLimits {
        if (jobs < 1 || disks < 1 || connectionsPerHost < 1 || queue < 0) {
            throw new IllegalArgumentException("job limits must be at least 1 (the queue at least 0): jobs " + jobs
                    + ", disks " + disks + ", connections per host " + connectionsPerHost + ", queue " + queue);
        }
    }
}
