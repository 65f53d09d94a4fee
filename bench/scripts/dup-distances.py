#!/usr/bin/env python3
"""Where the 4 KiB duplicates of a disk image are: how far (in disk bytes) each 4 KiB block that
equals an earlier one lies behind its first occurrence, and in runs of how many blocks.

Usage: dup-distances.py IMAGE.raw

Same chunking as dedup-frames-bound.py (128 KiB chunks at chunk-aligned offsets, all-zero and
duplicate chunks skipped, zero blocks skipped). A copy close behind its original matters for
sub-chunk dedup: the original's pack may not be sealed and indexed yet (docs/performance.md,
"2026-12-05, issue 18: 4 KiB duplicates").
"""
import collections, hashlib, os, sys

BLOCK, CHUNK = 4096, 128 << 10
BUCKETS = [(1, '<1M'), (8, '1-8M'), (32, '8-32M'), (64, '32-64M'), (256, '64-256M')]


def extents(fd, size):
    at = 0
    while at < size:
        try:
            start = os.lseek(fd, at, os.SEEK_DATA)
        except OSError:
            return
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, end
        at = end


def main():
    fd = os.open(sys.argv[1], os.O_RDONLY)
    chunks = set()
    for s, e in extents(fd, os.fstat(fd).st_size):
        chunks.update(range(s // CHUNK, (e - 1) // CHUNK + 1))
    zero = bytes(CHUNK)
    first, seen_chunks = {}, set()
    dist, runs = collections.Counter(), collections.Counter()
    same_chunk = total = 0
    for i in sorted(chunks):
        data = os.pread(fd, CHUNK, i * CHUNK)
        if data == zero[:len(data)]:
            continue
        h = hashlib.sha256(data).digest()
        if h in seen_chunks:
            continue
        seen_chunks.add(h)
        run = 0
        for b in range(len(data) // BLOCK):
            block = data[b * BLOCK:(b + 1) * BLOCK]
            k = None if block == zero[:BLOCK] else hashlib.sha1(block).digest()
            if k is not None and k in first:
                total += 1
                run += 1
                if first[k] == i:
                    same_chunk += 1
                else:
                    mib = (i - first[k]) * CHUNK >> 20
                    dist[next((name for limit, name in BUCKETS if mib < limit), '>=256M')] += 1
                continue
            if k is not None:
                first[k] = i
            if run:
                runs[min(run, 8)] += run
                run = 0
        if run:
            runs[min(run, 8)] += run
    print(f"duplicate 4 KiB blocks: {total} ({total * BLOCK / (1 << 20):.1f} MiB), {same_chunk} in their original's chunk")
    print("distance behind the original, blocks:", dict(dist))
    print("blocks by run length (8 = 8 or more):", dict(sorted(runs.items())))


if __name__ == '__main__':
    main()
