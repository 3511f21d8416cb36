"""Memory and CPU of processes, read from Linux's /proc and rusage, for the benchmarks."""

import os
import subprocess
import tempfile
import time


def run_measured(cmd):
    """(wall seconds, CPU seconds, peak RSS in MB, stdout) of a subprocess; the peak is its own (os.wait4
    reaps it with its rusage, so Popen must not wait: its output goes to files, not pipes)."""
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.read().decode()[-3000:]}")
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read().decode()


def status_mb(field="VmRSS", pid="self"):
    """A memory field of /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile ...) in MB."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field + ":"))


def reset_peak_rss():
    """Restart VmHWM from the current RSS (Linux >= 4.0; elsewhere a no-op)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def smaps_mb(pid="self"):
    """{field: MB} of /proc/PID/smaps_rollup; uss (unique set size) = Private_Clean + Private_Dirty:
    the pages this process alone holds (copied on write, or allocated after the fork)."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        kb = {k.rstrip(":"): int(v) for k, v, *_ in (line.split() for line in f) if v.isdigit()}
    mb = {k: kb.get(k, 0) / 1024 for k in ("Rss", "Pss", "Private_Clean", "Private_Dirty")}
    return dict(mb, uss=mb["Private_Clean"] + mb["Private_Dirty"])


def child_pids():
    """The pids of this process's living children (e.g. fairseq's loader workers)."""
    me = str(os.getpid())
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if fields[1] == me:
            out.append(int(pid))
    return sorted(out)
