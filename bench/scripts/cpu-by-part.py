#!/usr/bin/python3
"""Where a backup's CPU goes, machine-wide: the NBD server, the client, hashing, compression, the index, the JIT.

Usage: cpu-by-part.py PERF.DATA HZ [GIB]
PERF.DATA is `perf record -a -g -F HZ` over exactly one backup (the proxy's, so that nothing else runs); run
`jcmd PID Compiler.perfmap` before the proxy exits so that JIT-compiled code has names. Prints CPU-seconds
(samples / HZ) per part, and per GiB of data read when GIB is given. Thread names are blockmover's (store-N,
nbd-client-N) and the JVM's; SHA-256 is C2's intrinsic, counted with the other JIT stubs (copies, CRC32C).
"""
import re, subprocess, sys
data, hz = sys.argv[1], float(sys.argv[2])
gib = float(sys.argv[3]) if len(sys.argv) > 3 else None
# Tab-separated fields: the columns' widths depend on the longest name in the data.
out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "comm,dso,sym", "-n", "-g", "none",
                      "-t", "\t"], capture_output=True, text=True, check=True).stdout
parts = {}
def add(k, n): parts[k] = parts.get(k, 0) + n
for line in out.splitlines():
    f = line.split("\t")
    m = re.match(r"\[(.)\]\s+(.*)$", f[-1].strip()) if len(f) == 5 and not line.startswith("#") else None
    if not m:
        continue
    n, comm, dso, kind, sym = int(f[1]), f[2].strip(), f[3].strip(), m.group(1), m.group(2)
    if comm == "qemu-nbd": add("qemu-nbd (the NBD server)", n)
    elif comm == "swapper": add("idle", n)
    elif comm.startswith("C2 Compiler") or comm.startswith("C1 Compiler"): add("JIT compilers (C1, C2)", n)
    elif comm.startswith("GC Thread") or comm.startswith("VM Thread"): add("GC", n)
    elif comm.startswith("nbd-client"): add("NBD client (event loops, socket reads)", n)
    elif comm.startswith("store-") or comm.startswith("disk-") or comm.startswith("pack-") or comm.startswith("job"):
        if "zstd" in dso and "decompress" in sym.lower(): add("zstd decompress (sources read back)", n)
        elif "zstd" in dso: add("zstd compress", n)
        elif sym.startswith("XXH64") or "xxhash" in sym.lower(): add("XXH64 (sub-chunk fingerprints)", n)
        elif "lz4" in dso: add("lz4 compress", n)
        elif "rocksdb" in dso: add("RocksDB", n)
        elif "compilerstubs" in sym or "finalstubs" in sym or "initialstubs" in sym: add("JIT stubs (SHA-256 intrinsic, copies, CRC32C)", n)
        elif kind == "k": add("kernel (pack writes, page cache, scheduling)", n)
        elif "[JIT]" in dso: add("other JIT-compiled Java in the workers", n)
        else: add("other native in the workers (" + dso + ")", n)
    elif comm.startswith("kworker") or comm.startswith("jbd2") or comm.startswith("ksoftirq"): add("kernel threads (write-back, journal)", n)
    elif comm in ("perf", "python3"): add("measurement (perf, the driver)", n)
    else: add("other: " + comm, n)
total = sum(v for k, v in parts.items())
print(f"{'part':<55} {'CPU-s':>7} {'share':>6}" + (f" {'CPU-s/GiB':>9}" if gib else ""))
for k, v in sorted(parts.items(), key=lambda kv: -kv[1]):
    s = v / hz
    print(f"{k:<55} {s:7.2f} {100*v/total:5.1f}%" + (f" {s/gib:9.2f}" if gib else ""))
print(f"{'all samples (every CPU x wall)':<55} {total/hz:7.2f}")
