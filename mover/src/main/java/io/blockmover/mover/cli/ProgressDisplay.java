package io.blockmover.mover.cli;

import io.blockmover.mover.pipeline.TransferCounters;
import io.blockmover.nbd.units.Sizes;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The one progress display of every command: a bar per disk or export (bytes done, MB/s, ETA),
 * redrawn in place twice a second. When standard error is not a terminal it prints nothing unless
 * asked to: logs and pipes stay clean, and --json output has none.
 */
final class ProgressDisplay implements AutoCloseable {
    private static final int BAR = 28;

    private record Line(String label, TransferCounters counters) {}

    private final PrintStream out;
    private final List<Line> lines = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService timer;
    private int drawn;
    private boolean closed;

    private ProgressDisplay(PrintStream out, boolean enabled) {
        this.out = out;
        if (enabled) {
            timer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "progress");
                t.setDaemon(true);
                return t;
            });
            timer.scheduleAtFixedRate(this::redraw, 500, 500, TimeUnit.MILLISECONDS);
        } else {
            timer = null;
        }
    }

    /** A display on {@code out} that draws when {@code enabled}, terminal or not (nbd-copy's {@code --progress}). */
    static ProgressDisplay on(PrintStream out, boolean enabled) {
        return new ProgressDisplay(out, enabled);
    }

    /** A display on standard error that draws only when it is a terminal and {@code wanted}. */
    static ProgressDisplay onStderr(boolean wanted) {
        java.io.Console console = System.console();
        return new ProgressDisplay(System.err, wanted && console != null && console.isTerminal());
    }

    void track(String label, TransferCounters counters) {
        lines.add(new Line(label, counters));
    }

    private synchronized void redraw() {
        StringBuilder b = new StringBuilder();
        if (drawn > 0) {
            b.append("\033[").append(drawn).append('F'); // back to the first line we drew
        }
        for (Line l : lines) {
            b.append("\033[2K").append(render(l.label(), l.counters().snapshot())).append('\n');
        }
        drawn = lines.size();
        out.print(b);
        out.flush();
    }

    static String render(String label, TransferCounters.Snapshot s) {
        double fraction = s.total() == 0 ? 1 : Math.min(1, (double) s.done() / s.total());
        int filled = (int) Math.round(fraction * BAR);
        double eta = s.etaSeconds();
        return String.format(Locale.ROOT, "%-24s [%s%s] %5.1f%% %9s/%-9s %7.1f MB/s  ETA %s",
                label.length() > 24 ? "…" + label.substring(label.length() - 23) : label,
                "#".repeat(filled), " ".repeat(BAR - filled), fraction * 100,
                Sizes.human(s.done()), Sizes.human(s.total()), s.megabytesPerSecond(),
                Double.isNaN(eta) ? "--:--" : String.format(Locale.ROOT, "%d:%02d", (long) eta / 60, (long) eta % 60));
    }

    @Override
    public synchronized void close() {
        if (timer != null && !closed) {
            closed = true;
            timer.shutdownNow();
            redraw(); // the final state stays on screen
        }
    }
}
