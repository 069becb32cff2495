"""The machine: CPU accounting (what the server and everything else used during a
run), waiting for quiet, machine/version info, artefact sizes."""
import gzip
import hashlib
import os
import platform
import re
import subprocess
import time
from pathlib import Path

from .config import ENVOY_BIN, ROOT, WORKERD_BIN


TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks():
    """(busy, steal) ticks of the whole machine from /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (f + [0] * 8)[:8]
    return user + nice + system + irq + softirq, steal


def proc_ticks(pid):
    """utime + stime of a process (all its threads), 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    rest = stat[stat.rindex(")") + 2:].split()
    return int(rest[11]) + int(rest[12])


class CpuWatch:
    """How much CPU was used during a run by anything other than the server, wrk (a
    reaped child of this process) and this process: other work on the machine, which
    makes the numbers noisy. Also the hypervisor's steal time."""

    def __init__(self, server_pid):
        self.pid = server_pid
        self.t0 = time.time()
        self.busy0, self.steal0 = cpu_ticks()
        self.srv0 = proc_ticks(server_pid)
        self.own0 = sum(os.times()[:4])

    def result(self):
        dt = time.time() - self.t0
        busy, steal = cpu_ticks()
        srv = (proc_ticks(self.pid) - self.srv0) / TCK
        own = sum(os.times()[:4]) - self.own0  # this process + reaped children (wrk)
        other = (busy - self.busy0) / TCK - srv - own
        return {"server_cpu_cores": round(srv / dt, 2), "other_cpu_cores": round(max(other, 0) / dt, 2),
                "steal_cores": round((steal - self.steal0) / TCK / dt, 2)}


def machine_busy(seconds=2.0):
    """Cores' worth of CPU the machine used over `seconds` (everything: nothing of ours runs)."""
    b0, _ = cpu_ticks()
    time.sleep(seconds)
    b1, _ = cpu_ticks()
    return (b1 - b0) / TCK / seconds


def wait_quiet(limit, timeout, why):
    """Waits (up to `timeout` s) until the machine uses less than `limit` cores."""
    deadline = time.time() + timeout
    busy = machine_busy()
    said = False
    while busy >= limit and time.time() < deadline:
        if not said:
            print(f"bench: {why}: the machine is busy ({busy:.2f} cores in use); waiting up to {timeout:.0f}s "
                  "for it to quieten", flush=True)
            said = True
        busy = machine_busy(3.0)
    return busy


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:  # noqa: BLE001
        return f"({e})"


def first_match(text, pattern):
    m = re.search(pattern, text)
    return m.group(0).strip() if m else "see log"


def machine_info():
    model = first_match(Path("/proc/cpuinfo").read_text(), r"(?m)^model name\s*:\s*(.*)$")
    model = model.split(":", 1)[1].strip() if ":" in model else model
    mem = first_match(Path("/proc/meminfo").read_text(), r"(?m)^MemTotal:.*$")
    git = sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    return {
        "cpu_model": model, "nproc": int(sh(["nproc"]) or 0), "kernel": platform.release(),
        "mem_total": mem.split(":", 1)[1].strip() if ":" in mem else mem,
        "envoy_version": sh([str(ENVOY_BIN), "--version"]).replace(f"{ENVOY_BIN}", "envoy").strip(),
        "workerd_version": sh([str(WORKERD_BIN), "--version"]),
        "wrk_version": first_match(sh(["sh", "-c", "wrk -v 2>&1 || true"]), r"wrk [^\s]+"),
        "node_version": sh(["node", "--version"]),
        "git_commit": git + (" (with uncommitted changes)" if dirty else ""),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def size_info(path):
    data = path.read_bytes()
    gz = sh(["sh", "-c", f"gzip -9c '{path}' | wc -c"])
    return {"path": str(path.relative_to(ROOT)), "bytes": len(data),
            "gzip9_bytes": int(gz) if gz.isdigit() else len(gzip.compress(data, 9)),
            "sha256": hashlib.sha256(data).hexdigest()[:16]}
