package io.blockmover.index.maintenance;

/**
 * gc's mark set: 64-bit digest prefixes in an open-addressing table, 8–16 bytes per live chunk
 * (a 10 M-chunk repository marks in ~160 MiB). A prefix collision can only keep a dead chunk
 * alive, never free a live one.
 */
final class LongHashSet {
    private long[] table = new long[1 << 16];
    private int size;
    private boolean hasZero;

    void add(long v) {
        if (v == 0) {
            hasZero = true;
            return;
        }
        if ((size + 1) * 2 > table.length) {
            grow();
        }
        insert(table, v);
    }

    private boolean insert(long[] t, long v) {
        int mask = t.length - 1;
        int i = (int) mix(v) & mask;
        while (t[i] != 0) {
            if (t[i] == v) {
                return false;
            }
            i = (i + 1) & mask;
        }
        t[i] = v;
        if (t == table) {
            size++;
        }
        return true;
    }

    boolean contains(long v) {
        if (v == 0) {
            return hasZero;
        }
        int mask = table.length - 1;
        int i = (int) mix(v) & mask;
        while (table[i] != 0) {
            if (table[i] == v) {
                return true;
            }
            i = (i + 1) & mask;
        }
        return false;
    }

    int size() {
        return size + (hasZero ? 1 : 0);
    }

    private void grow() {
        long[] bigger = new long[table.length * 2];
        for (long v : table) {
            if (v != 0) {
                insert(bigger, v);
            }
        }
        table = bigger;
    }

    private static long mix(long v) {
        v ^= v >>> 33;
        v *= 0xff51afd7ed558ccdL;
        v ^= v >>> 33;
        return v;
    }
}
