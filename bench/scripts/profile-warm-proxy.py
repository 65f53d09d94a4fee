#!/usr/bin/python3
"""Profile one full backup through a warm proxy, machine-wide, for cpu-by-part.py.

Usage: profile-warm-proxy.py [--init="INIT OPTIONS"] LAUNCHER WORK TIMED_IMAGE [WARMUP_IMAGE...]
Starts qemu-nbd (read-only, as the bench serves images) on each image, `blockmover init` and
`serve` on WORK/repo, backs up each warm-up image in full (the file-system phase's warm-up: a kin
of the timed image, then a small disk), restores the first, then records
`perf record -a -g -F 499` over exactly the timed full backup into WORK/perf.data (the JIT's
symbols go to /tmp/perf-<pid>.map) and prints the backup's wall seconds; then run
`cpu-by-part.py WORK/perf.data 499 GIB`. SETTLE=SECONDS in the environment waits that long between
the warm-ups and the timed backup (the JIT's queue drains while the proxy is idle). The proxy's
output goes to WORK/proxy.log. Needs perf (Debian: linux-perf), qemu-nbd, ss, and python3-grpcio and
python3-grpc-tools (Debian's, which `make bench-deps` installs: run it with /usr/bin/python3).
"""
import os, re, shutil, signal, socket, subprocess, sys, tempfile, threading, time

args = sys.argv[1:]
init_options = args.pop(0).removeprefix("--init=").split() if args and args[0].startswith("--init=") else []
launcher, work, timed, warmups = args[0], args[1], args[2], args[3:]
home = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
stubs = tempfile.mkdtemp(prefix="bm-stubs-")
# Debian's grpc_tools (protoc 3.21 as a module) refuses proto3's `optional`; presence does not matter here.
proto = open(os.path.join(home, "mover", "src", "main", "proto", "blockmover", "v1", "proxy.proto")).read()
os.makedirs(os.path.join(stubs, "blockmover", "v1"))
with open(os.path.join(stubs, "blockmover", "v1", "proxy.proto"), "w") as f:
    f.write(re.sub(r"\boptional ", "", proto))
subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", stubs, "--python_out", stubs,
                "--grpc_python_out", stubs, "blockmover/v1/proxy.proto"], check=True)
sys.path.insert(0, stubs)
import grpc  # noqa: E402
from blockmover.v1 import proxy_pb2 as pb, proxy_pb2_grpc as rpc  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_image(path):
    port = free_port()
    p = subprocess.Popen(["qemu-nbd", "-r", "-f", "raw", "-b", "127.0.0.1", "-p", str(port), "--persistent",
                          "--shared=8", path])
    for _ in range(100):
        # Wait for the listening socket without connecting (a probe connection makes qemu-nbd log an error).
        if subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout.strip():
            return p, f"nbd://127.0.0.1:{port}"
        time.sleep(0.05)
    raise SystemExit(f"qemu-nbd did not listen for {path}")


def run(stream):
    last = None
    for last in stream:
        pass
    if last is None or not last.HasField("result"):
        raise SystemExit("the proxy ended a job without a result")


repo = os.path.join(work, "repo")
shutil.rmtree(repo, ignore_errors=True)
subprocess.run([launcher, "init", "--repo", repo, *init_options], check=True, stdout=subprocess.DEVNULL)
servers = []
perf = None
proxy = subprocess.Popen([launcher, "serve", "--no-auth", "--listen", "127.0.0.1:0", "--restore-dir", work,
                          "--allow-source", "127.0.0.1:*", "--repo", repo], stdout=subprocess.PIPE, text=True)
try:
    port = None
    for line in proxy.stdout:
        m = re.search(r"grpc 127\.0\.0\.1:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    if port is None:
        raise SystemExit("the proxy did not start")
    # The proxy's output goes on to WORK/proxy.log (a full pipe would stop it), with the timed
    # backup's start and end marked, for -XX:+PrintCompilation in BLOCKMOVER_JAVA_OPTS.
    log = open(os.path.join(work, "proxy.log"), "w")
    lock = threading.Lock()

    def drain():
        for out in proxy.stdout:
            with lock:
                log.write(out)
    threading.Thread(target=drain, daemon=True).start()

    def mark(what):
        with lock:
            log.write(f"==== {what}\n")
            log.flush()
    stub = rpc.BackupProxyStub(grpc.insecure_channel(f"127.0.0.1:{port}"))

    def backup(vm, uri):
        disk = pb.DiskSource(disk="disk0", uri=uri, change_id=vm + "-1")
        run(stub.Backup(pb.BackupRequest(vm=vm, mode=pb.BACKUP_MODE_FULL, disks=[disk])))

    for i, image in enumerate(warmups):
        p, uri = serve_image(image)
        servers.append(p)
        backup(f"warm{i}", uri)
    if warmups:
        target = os.path.join(work, "warm-restored.raw")
        run(stub.Restore(pb.RestoreRequest(vm="warm0", target=target)))
        os.remove(target)
    time.sleep(float(os.environ.get("SETTLE", "0")))
    p, uri = serve_image(timed)
    servers.append(p)
    perf = subprocess.Popen(["perf", "record", "-a", "-g", "-F", "499", "-o", os.path.join(work, "perf.data")],
                            stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    start = time.monotonic()
    mark("timed full backup starts")
    backup("timed", uri)
    seconds = time.monotonic() - start
    mark("timed full backup ends")
    perf.send_signal(signal.SIGINT)
    perf.wait()
    perf = None
    # The proxy's own JDK (the launcher execs java, so its pid is the JVM's): the default jcmd may be older.
    jcmd = os.path.join(os.path.dirname(os.readlink(f"/proc/{proxy.pid}/exe")), "jcmd")
    subprocess.run([jcmd, str(proxy.pid), "Compiler.perfmap"], check=True, stdout=subprocess.DEVNULL)
    print(f"timed full backup: {seconds:.2f} s")
finally:
    if perf is not None:  # the backup failed: stop recording
        perf.send_signal(signal.SIGINT)
        perf.wait()
    proxy.terminate()
    proxy.wait()
    for p in servers:
        p.terminate()
        p.wait()
    shutil.rmtree(stubs, ignore_errors=True)
