package io.blockmover.mover.api;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the proxy has done, in the Prometheus text format: jobs by kind and outcome with their
 * time, jobs running, bytes moved, and per VM the time of its last committed backup (the number
 * an operator alerts on). Counters only grow for the life of the process, as Prometheus expects.
 */
public final class ProxyMetrics {
    /** The proxy's calls that run as jobs. */
    public enum Kind { BACKUP, RESTORE, VERIFY, PRUNE, GC, STATS }

    public enum Outcome { OK, FAILED, CANCELLED }

    private record Key(Kind kind, Outcome outcome) {}

    private final Map<Key, LongAdder> jobs = new ConcurrentHashMap<>();
    private final Map<Kind, DoubleAdder> seconds = new EnumMap<>(Kind.class);
    private final AtomicInteger running = new AtomicInteger();
    private final LongAdder bytesRead = new LongAdder();
    private final LongAdder bytesNew = new LongAdder();
    private final LongAdder bytesStored = new LongAdder();
    private final LongAdder bytesDeduplicated = new LongAdder();
    private final LongAdder bytesRestored = new LongAdder();
    private final Map<String, Long> lastBackup = new ConcurrentHashMap<>();

    public ProxyMetrics() {
        for (Kind k : Kind.values()) {
            seconds.put(k, new DoubleAdder());
        }
    }

    void jobStarted() {
        running.incrementAndGet();
    }

    void jobEnded(Kind kind, Outcome outcome, double elapsedSeconds) {
        running.decrementAndGet();
        jobs.computeIfAbsent(new Key(kind, outcome), k -> new LongAdder()).increment();
        seconds.get(kind).add(elapsedSeconds);
    }

    void backupCommitted(String vm, long read, long newData, long stored, long deduplicated, long epochSecond) {
        bytesRead.add(read);
        bytesNew.add(newData);
        bytesStored.add(stored);
        bytesDeduplicated.add(deduplicated);
        lastBackup.merge(vm, epochSecond, Math::max);
    }

    void restored(long bytes) {
        bytesRestored.add(bytes);
    }

    /** The text exposition format, version 0.0.4. */
    public String render() {
        StringBuilder out = new StringBuilder();
        header(out, "blockmover_jobs_total", "counter", "Jobs ended, by kind and outcome.");
        for (Kind k : Kind.values()) {
            for (Outcome o : Outcome.values()) {
                LongAdder n = jobs.get(new Key(k, o));
                out.append("blockmover_jobs_total{kind=\"").append(label(k)).append("\",outcome=\"").append(label(o))
                        .append("\"} ").append(n == null ? 0 : n.sum()).append('\n');
            }
        }
        header(out, "blockmover_job_seconds_total", "counter", "Time spent in jobs that ended, by kind.");
        for (Kind k : Kind.values()) {
            out.append("blockmover_job_seconds_total{kind=\"").append(label(k)).append("\"} ")
                    .append(String.format(Locale.ROOT, "%.3f", seconds.get(k).sum())).append('\n');
        }
        header(out, "blockmover_jobs_running", "gauge", "Jobs running or waiting for a slot.");
        out.append("blockmover_jobs_running ").append(running.get()).append('\n');
        counter(out, "blockmover_backup_read_bytes_total", "Bytes read from sources by committed backups.", bytesRead);
        counter(out, "blockmover_backup_new_bytes_total", "Bytes of chunks new to the repository, before compression.", bytesNew);
        counter(out, "blockmover_backup_stored_bytes_total", "Bytes those new chunks took in packs.", bytesStored);
        counter(out, "blockmover_backup_deduplicated_bytes_total", "Bytes read that the repository already held.", bytesDeduplicated);
        counter(out, "blockmover_restore_written_bytes_total", "Bytes written by restores.", bytesRestored);
        header(out, "blockmover_last_backup_timestamp_seconds", "gauge", "When the VM's last backup through this proxy committed.");
        new TreeMap<>(lastBackup).forEach((vm, at) -> out.append("blockmover_last_backup_timestamp_seconds{vm=\"")
                .append(escape(vm)).append("\"} ").append(at).append('\n'));
        return out.toString();
    }

    private static void counter(StringBuilder out, String name, String help, LongAdder value) {
        header(out, name, "counter", help);
        out.append(name).append(' ').append(value.sum()).append('\n');
    }

    private static void header(StringBuilder out, String name, String type, String help) {
        out.append("# HELP ").append(name).append(' ').append(help).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static String label(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    /** Label values escape backslash, double quote and newline. */
    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
