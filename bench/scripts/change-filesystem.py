#!/usr/bin/env python3
"""A guest-like change inside the ext4 file system of a bench image, recorded by changed block tracking.

Usage: change-filesystem.py BASE.raw CHANGED.raw OVERLAY.qcow2 PERCENT

1. CHANGED.raw = a sparse copy of BASE.raw, changed with debugfs (e2fsprogs) as a guest changes its
   file system: files of /usr/lib/x86_64-linux-gnu rewritten (a package upgrade: new blocks, the old
   ones freed), files of /usr/share/doc appended to (log-like growth: the file rewritten with more at
   its end), files deleted (only metadata changes), and a new file (new data in free space). Each
   operation moves the ext4 metadata a real one moves: inode, block bitmaps, directory blocks, group
   descriptors. About PERCENT % of the file system's data is written.
2. The 4 KiB blocks that differ are written, in runs, into OVERLAY.qcow2 (backed by BASE.raw) with
   qemu-io. The overlay holds a persistent dirty bitmap bm0 that records those writes as qemu's block
   layer records a guest's: served with `qemu-nbd -A -B bm0`, its meta context
   qemu:dirty-bitmap:bm0 is the changed block tracking of an incremental.
Deterministic for a given image (files chosen by sorted name, content derived from their names).
Prints one line: bytes written, runs, files rewritten/appended/deleted.
"""
import hashlib, os, shutil, subprocess, sys, tempfile

BLOCK = 4096


def debugfs(image, commands, write=False):
    with tempfile.NamedTemporaryFile("w", suffix=".cmds", delete=False) as f:
        f.write("\n".join(commands) + "\n")
        name = f.name
    try:
        args = ["debugfs"] + (["-w"] if write else []) + ["-f", name, image]
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"debugfs failed: {r.stderr}")
        return r.stdout
    finally:
        os.unlink(name)


def files(image, directory):
    """(name, size) of the regular files directly in a directory of the image, sorted by name."""
    out = []
    for line in debugfs(image, [f"ls -p {directory}"]).splitlines():
        parts = line.strip().strip("/").split("/")
        if len(parts) >= 6 and parts[1].startswith("100") and parts[5].isdigit():
            out.append((parts[4], int(parts[5])))
    return sorted(out)


def data_bytes(path):
    """Allocated bytes of a sparse file, from SEEK_DATA/SEEK_HOLE."""
    return sum(end - start for start, end in extents(path))


def extents(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        at = 0
        while at < size:
            try:
                start = os.lseek(fd, at, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            yield start, end
            at = end
    finally:
        os.close(fd)


def stream(seed, length):
    """Compressible, name-derived bytes: text lines with a counter (what logs and upgrades write)."""
    out = bytearray()
    i = 0
    while len(out) < length:
        out += f"{seed} line {i} {hashlib.sha1(f'{seed}{i}'.encode()).hexdigest()}\n".encode()
        i += 1
    return bytes(out[:length])


def main():
    base, changed, overlay, percent = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    target = int(data_bytes(base) * percent / 100)
    subprocess.run(["cp", "--sparse=always", base, changed], check=True)
    libs = [f for f in files(changed, "/usr/lib/x86_64-linux-gnu") if 64 << 10 <= f[1] <= 4 << 20]
    docs = [(f"{d}/{name}", size) for d in ("/usr/share/doc/adduser", "/usr/share/perl5/Debconf", "/usr/share/perl5/Debconf/Element")
            for name, size in files(changed, d)]
    work = tempfile.mkdtemp()
    cmds, written, rewritten, appended, deleted = [], 0, 0, 0, 0
    # Half the change: libraries replaced by new versions (same size, a few bytes differ every 4 KiB).
    for name, size in libs[::7]:
        if written >= target / 2:
            break
        src = f"/usr/lib/x86_64-linux-gnu/{name}"
        local = os.path.join(work, f"lib{rewritten}")
        debugfs(changed, [f"dump {src} {local}"])
        data = bytearray(open(local, "rb").read())
        for at in range(0, len(data), BLOCK):
            data[at:at + 8] = hashlib.sha1(f"{name}{at}".encode()).digest()[:8]
        open(local, "wb").write(data)
        cmds += [f"rm {src}", f"write {local} {src}"]
        written += len(data)
        rewritten += 1
    # A quarter: log-like files grow by 64 KiB each (written anew with the addition at the end).
    for src, size in docs:
        if written >= target * 3 / 4:
            break
        local = os.path.join(work, f"doc{appended}")
        debugfs(changed, [f"dump {src} {local}"])
        with open(local, "ab") as f:
            f.write(stream(src, 64 << 10))
        cmds += [f"rm {src}", f"write {local} {src}"]
        written += size + (64 << 10)
        appended += 1
    # Deleted files: metadata only.
    for name, size in libs[3::13][:20]:
        cmds.append(f"rm /usr/lib/x86_64-linux-gnu/{name}")
        deleted += 1
    # The rest: a new file.
    rest = max(BLOCK, int(target - written))
    local = os.path.join(work, "new")
    open(local, "wb").write(stream("new", rest))
    cmds.append(f"write {local} /var-log-new.log")
    written += rest
    debugfs(changed, cmds, write=True)
    shutil.rmtree(work)
    runs = diff_into_overlay(base, changed, overlay)
    changed_bytes = sum(r[1] for r in runs)
    print(f"changed {changed_bytes} bytes in {len(runs)} runs (target {target}; files: {rewritten} rewritten, "
          f"{appended} appended, {deleted} deleted, 1 new)")


def diff_into_overlay(base, changed, overlay):
    """Writes every 4 KiB block of CHANGED that differs from BASE into a new overlay with bitmap bm0."""
    runs = []
    with open(base, "rb") as b, open(changed, "rb") as c:
        for start, end in extents(changed):
            at = start
            while at < end:
                n = min(1 << 20, end - at)
                b.seek(at); c.seek(at)
                x, y = b.read(n), c.read(n)
                x = x + bytes(n - len(x))
                for off in range(0, n, BLOCK):
                    if x[off:off + BLOCK] != y[off:off + BLOCK]:
                        pos = at + off
                        if runs and runs[-1][0] + runs[-1][1] == pos:
                            runs[-1][1] += BLOCK
                        else:
                            runs.append([pos, BLOCK])
                at += n
    if os.path.exists(overlay):
        os.unlink(overlay)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", os.path.abspath(base), "-F", "raw", overlay], check=True)
    subprocess.run(["qemu-img", "bitmap", "--add", overlay, "bm0"], check=True)
    work = tempfile.mkdtemp()
    try:
        args = ["qemu-io", "-f", "qcow2", overlay]
        with open(changed, "rb") as c:
            for i, (pos, length) in enumerate(runs):
                piece = os.path.join(work, str(i))
                c.seek(pos)
                open(piece, "wb").write(c.read(length))
                args += ["-c", f"write -q -s {piece} {pos} {length}"]
        subprocess.run(args, check=True)
    finally:
        shutil.rmtree(work)
    return runs


main()
