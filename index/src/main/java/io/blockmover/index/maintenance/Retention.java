package io.blockmover.index.maintenance;

import io.blockmover.index.manifest.BackupRecord;

import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * Which backups of one VM to keep: the newest {@code keepLast}, plus the newest backup of each of
 * the newest {@code keepDaily} days, {@code keepWeekly} ISO weeks, {@code keepMonthly} months and
 * {@code keepYearly} years that have a backup (the rule restic and PBS use).
 */
public record Retention(int keepLast, int keepDaily, int keepWeekly, int keepMonthly, int keepYearly) {
    public Retention {
        if (keepLast < 0 || keepDaily < 0 || keepWeekly < 0 || keepMonthly < 0 || keepYearly < 0) {
            throw new IllegalArgumentException("retention counts cannot be negative");
        }
        if (keepLast + keepDaily + keepWeekly + keepMonthly + keepYearly == 0) {
            throw new IllegalArgumentException("a retention that keeps nothing would delete every backup; keep at least one");
        }
    }

    /** The ids to keep among {@code backups} (all of one VM). */
    public Set<Long> keep(List<BackupRecord> backups, ZoneId zone) {
        List<BackupRecord> newestFirst = new ArrayList<>(backups);
        newestFirst.sort(Comparator.comparing(BackupRecord::committed).thenComparingLong(BackupRecord::id).reversed());
        Set<Long> keep = new HashSet<>();
        for (int i = 0; i < Math.min(keepLast, newestFirst.size()); i++) {
            keep.add(newestFirst.get(i).id());
        }
        bucket(newestFirst, keepDaily, zone, t -> t.toLocalDate(), keep);
        bucket(newestFirst, keepWeekly, zone, t -> t.get(IsoFields.WEEK_BASED_YEAR) * 100 + t.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR), keep);
        bucket(newestFirst, keepMonthly, zone, t -> t.getYear() * 100 + t.getMonthValue(), keep);
        bucket(newestFirst, keepYearly, zone, ZonedDateTime::getYear, keep);
        return keep;
    }

    private static void bucket(List<BackupRecord> newestFirst, int count, ZoneId zone, Function<ZonedDateTime, Object> key, Set<Long> keep) {
        Object last = null;
        int kept = 0;
        for (BackupRecord b : newestFirst) {
            if (kept >= count) {
                return;
            }
            Object k = key.apply(b.committed().atZone(zone));
            if (!k.equals(last)) {
                keep.add(b.id());
                last = k;
                kept++;
            }
        }
    }
}
