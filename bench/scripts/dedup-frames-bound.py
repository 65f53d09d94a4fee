#!/usr/bin/env python3
"""What frames and 4 KiB sub-chunk deduplication could save on a disk image, as upper bounds.

Usage: dedup-frames-bound.py IMAGE.raw [CHUNK_KIB]

Reads the image's allocated extents in fixed chunks at chunk-aligned disk offsets (blockmover's
chunking), skips all-zero chunks and deduplicates whole chunks (SHA-256), then:
  - 4 KiB sub-chunk dedup: of the unique chunks' 4 KiB blocks (at 4 KiB-aligned disk offsets), how
    many equal a block seen before (in the disk or earlier in the same chunk), i.e. what an index of
    4 KiB fingerprints could reference instead of storing; and how many whole chunks such blocks cover.
  - frames: the unique chunks, in disk order, compressed by the zstd CLI as independent 128 KiB
    blocks and as 1 MiB blocks (8 consecutive new chunks per frame), levels 1 and 3
    (`zstd -b -B`), with and without the 4 KiB duplicates (a frame then holds only the new blocks).
Prints one line per figure; bytes in MiB.
"""
import hashlib, os, subprocess, sys, tempfile

BLOCK = 4096


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
    image = sys.argv[1]
    chunk = (int(sys.argv[2]) if len(sys.argv) > 2 else 128) << 10
    fd = os.open(image, os.O_RDONLY)
    size = os.fstat(fd).st_size
    chunks = set()
    for start, end in extents(fd, size):
        first = start // chunk
        last = (end - 1) // chunk
        chunks.update(range(first, last + 1))
    zero = bytes(chunk)
    seen_chunks, seen_blocks = set(), set()
    n_chunks = n_zero = n_dup = 0
    unique_bytes = dup4k_bytes = 0
    work = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(image)))
    stream_all = open(os.path.join(work, "unique"), "wb")      # unique chunks, disk order
    stream_new = open(os.path.join(work, "unique-4k"), "wb")   # the same without 4 KiB duplicates
    for i in sorted(chunks):
        data = os.pread(fd, chunk, i * chunk)
        n_chunks += 1
        if data == zero[:len(data)]:
            n_zero += 1
            continue
        h = hashlib.sha256(data).digest()
        if h in seen_chunks:
            n_dup += 1
            for off in range(0, len(data), BLOCK):  # its blocks are known too
                seen_blocks.add(hashlib.sha1(data[off:off + BLOCK]).digest())
            continue
        seen_chunks.add(h)
        unique_bytes += len(data)
        stream_all.write(data)
        for off in range(0, len(data), BLOCK):
            b = data[off:off + BLOCK]
            if b == zero[:len(b)]:
                stream_new.write(b)  # zero blocks cost nothing compressed either way
                continue
            k = hashlib.sha1(b).digest()
            if k in seen_blocks:
                dup4k_bytes += len(b)
            else:
                seen_blocks.add(k)
                stream_new.write(b)
    stream_all.close()
    stream_new.close()
    mib = 1 << 20
    print(f"chunks {n_chunks} of {chunk >> 10} KiB read; {n_zero} all-zero, {n_dup} duplicates of earlier chunks")
    print(f"unique chunk data {unique_bytes / mib:.1f} MiB; of it 4 KiB blocks equal to earlier ones {dup4k_bytes / mib:.1f} MiB "
          f"({100 * dup4k_bytes / max(1, unique_bytes):.1f}%); 4 KiB fingerprints to index {len(seen_blocks)}")
    for name in ("unique", "unique-4k"):
        path = os.path.join(work, name)
        for level in (1, 3):
            for frame in (chunk, 1 << 20):
                r = subprocess.run(["zstd", "-q", "-b%d" % level, "-i1", "-B%d" % frame, path], capture_output=True, text=True)
                line = (r.stdout + r.stderr).strip().splitlines()[-1]
                print(f"{name:10s} zstd -{level} frames of {frame >> 10:5d} KiB: {line.strip()}")
        os.unlink(path)
    os.rmdir(work)


main()
