"""Processes and ports: spawning and stopping (by process group), finding a server's
real process and its RSS, HTTP probes and readiness, free ports."""
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import config
from .config import LOGS, ROOT
from .errors import BenchError

PROCS = []  # every Popen started here; stopped (by process group) on exit


def spawn(name, cmd, cpu=None):
    LOGS.mkdir(parents=True, exist_ok=True)
    if cpu is not None and config.PIN:
        cmd = ["taskset", "-c", str(cpu)] + cmd
    log = open(LOGS / f"{name}.log", "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    proc.bench_name = name
    PROCS.append(proc)
    return proc


def stop(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    # Envoy/workerd run under a `sh` parent in the same group: make sure none is left.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc in PROCS:
        PROCS.remove(proc)


def stop_all():
    for proc in list(PROCS):
        stop(proc)


def descendant(pid, comm):
    """The pid of the first descendant of `pid` (or pid itself) whose comm is `comm`."""
    children = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        children.setdefault(int(rest[1]), []).append((int(d.name), stat[stat.index("(") + 1:stat.rindex(")")]))
    todo = [pid]
    while todo:
        p = todo.pop(0)
        for c, name in children.get(p, []):
            if name == comm:
                return c
            todo.append(c)
    return None


def rss_kb(pid):
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def http(url, headers=None, timeout=5):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_ready(name, proc, url, timeout=30):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited with code {proc.returncode}; see {LOGS / (name + '.log')}")
        try:
            status, _ = http(url, timeout=2)
            if status < 500:
                return
            last = f"status {status}"
        except Exception as e:  # noqa: BLE001 - any connection error means "not yet"
            last = e
        time.sleep(0.1)
    raise BenchError(f"{name} not ready at {url} after {timeout}s ({last}); see {LOGS / (name + '.log')}")


def port_free(port):
    import socket
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is fine
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def wait_ports_free(ports, timeout=15):
    """A stopped server's process may still hold its sockets for a moment; starting the
    next one on the same ports before they are free fails its bind()."""
    deadline = time.time() + timeout
    for port in ports:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                    break
                except OSError:
                    if time.time() > deadline:
                        raise BenchError(f"port {port} is still in use after {timeout}s")
                    time.sleep(0.1)
