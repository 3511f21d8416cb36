#!/usr/bin/env python3
"""A wheelhouse: xtune-fairseq's dependencies as wheels, built on a machine that reaches a package
registry, installed with `pip --no-index` on one that does not (a cluster GPU node). docs/offline-install.md.

  python3 scripts/wheelhouse.py build --python python3.12 --torch 2.11.0 --out wh-cp312
  # copy wh-cp312/ and the checkout to the node; there, with the node's python:
  python3 wh-cp312/wheelhouse.py install wh-cp312                     # into that python's environment
  python3 wh-cp312/wheelhouse.py install wh-cp312 --target /tmp/site  # beside it: PYTHONPATH=/tmp/site

build: a throwaway venv of --python holding torch==--torch and requirements-build.txt; then, as wheels
for that interpreter, every pin of requirements.txt but torch and torchaudio, with their dependencies
(`pip wheel`: the registry's binary wheels; a wheel built here where it has only a source archive), and
requirements-fairseq.txt's fairseq-fixed compiled against that torch (about 2.5 minutes). torch and its
own dependencies only with --with-torch: by default the node's torch is used, and it must be --torch.
Writes wheelhouse.json (what it was built for), requirements.txt (what install resolves) and a copy of
this script beside the wheels.

install: checks the target's Python, platform, glibc and torch against wheelhouse.json, installs from
the folder alone (pip's configuration and PIP_* variables ignored, --no-index; fairseq-fixed with
--no-deps, as scripts/venv.sh does: it declares torchaudio, which only its speech tasks use), then
imports fairseq and its compiled extensions with that python. xtune_fairseq itself runs from the
checkout (scripts/gpu-check.sh with XTUNE_PYTHON, or PYTHONPATH, as the last line printed says).

Standard library only: it runs with any Python 3.8+, on either machine."""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = "wheelhouse.json"
NOT_CARRIED = {"torch", "torchaudio", "fairseq-fixed"}  # torch: the node's (or --with-torch); fairseq: compiled
TORCH_STACK = re.compile(r"^(torch|torchaudio|triton|nvidia[-_]|cuda[-_])", re.I)  # only with --with-torch
PROBE = r"""
import json, platform, sys, sysconfig
try:
    import torch
    torch_version = torch.__version__
except ImportError:
    torch_version = None
print(json.dumps({"python": "%d.%d" % sys.version_info[:2], "implementation": sys.implementation.name,
                  "platform": sysconfig.get_platform(), "glibc": platform.libc_ver()[1], "torch": torch_version,
                  "executable": sys.executable}))
"""
VERIFY = r"""
import fairseq, sentencepiece, torch
from fairseq import libbase, libbleu, libnat
from fairseq.data import data_utils_fast, token_block_utils_fast
print("fairseq %s, torch %s, sentencepiece %s: fairseq and its compiled extensions import"
      % (fairseq.__version__, torch.__version__, sentencepiece.__version__))
"""


class Refused(Exception):
    """A one-line reason the command stops (printed as `error: ...`, exit 2)."""


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path):
    """[(canonical name, requirement line)] of a requirements file (comments and blank lines skipped)."""
    pins = []
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            if not match or line.startswith("-"):
                raise Refused(f"{path}:{number}: expected a requirement such as name==1.0, got {line!r}")
            pins.append((canonical(match.group(0)), line))
    return pins


def wheelhouse_requirements(root, torch, with_torch):
    """The lines the wheelhouse carries: requirements.txt's but torch, torchaudio and fairseq-fixed;
    torch==TORCH first with --with-torch."""
    lines = [line for name, line in read_pins(os.path.join(root, "requirements.txt")) if name not in NOT_CARRIED]
    return ([f"torch=={torch}"] if with_torch else []) + lines


def fairseq_pin(root):
    """requirements-fairseq.txt's fairseq-fixed line (e.g. fairseq-fixed==0.12.3.1)."""
    path = os.path.join(root, "requirements-fairseq.txt")
    pins = [line for name, line in read_pins(path) if name == "fairseq-fixed"] if os.path.isfile(path) else []
    if len(pins) != 1 or "==" not in pins[0]:
        raise Refused(f"{path}: expected one pinned line fairseq-fixed==VERSION")
    return pins[0]


def build_requirements(root, torch):
    """requirements-build.txt with its torch pin replaced by torch==TORCH."""
    pins = read_pins(os.path.join(root, "requirements-build.txt"))
    return [f"torch=={torch}"] + [line for name, line in pins if name != "torch"]


def probe(python, pythonpath=None):
    """What PROBE says about an interpreter (with pythonpath first on its path when given)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    try:
        proc = subprocess.run([python, "-c", PROBE], capture_output=True, text=True, env=env)
    except OSError as e:
        raise Refused(f"--python {python}: cannot run it ({e.strerror})") from None
    if proc.returncode:
        raise Refused(f"--python {python}: exits {proc.returncode}: {(proc.stderr.strip() or '?').splitlines()[-1]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_interpreter(python, info):
    if info["implementation"] != "cpython" or info["platform"] != "linux-x86_64":
        raise Refused(f"--python {python}: is {info['implementation']} on {info['platform']}; "
                      "a wheelhouse is built for CPython on linux-x86_64")
    if tuple(map(int, info["python"].split("."))) < (3, 10):
        raise Refused(f"--python {python}: is Python {info['python']}; xtune-fairseq needs 3.10 or newer")


def base_version(version):
    return version.split("+", 1)[0] if version else version  # 2.11.0+cu130 -> 2.11.0


def run(cmd, log, env=None):
    """Runs cmd with its output appended to log; a failure ends with the log's last lines and a one-line reason."""
    with open(log, "a") as f:
        f.write("\n$ " + " ".join(cmd) + "\n")
        f.flush()
        code = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode
    if code:
        with open(log) as f:
            sys.stderr.write("".join(f.readlines()[-25:]))
        raise Refused(f"{os.path.basename(cmd[0])} {' '.join(cmd[1:4])} ... failed (exit {code}); full log: {log}")


def step(message):
    print(f"[wheelhouse] {message}", file=sys.stderr, flush=True)


def check_out(out, force):
    """out must be new, empty, or (with force) a wheelhouse this script wrote."""
    if os.path.lexists(out) and not os.path.isdir(out):
        raise Refused(f"--out {out}: is a file; --out names the folder the wheelhouse is written to")
    if os.path.isdir(out) and os.listdir(out):
        if not os.path.isfile(os.path.join(out, MANIFEST)):
            raise Refused(f"--out {out}: holds files and no {MANIFEST}: not a wheelhouse; choose another folder")
        if not force:
            raise Refused(f"--out {out}: already holds a wheelhouse; --force replaces it")


def build_venv(python, venv, root, torch, log):
    """A venv of python holding torch==TORCH and the other build requirements (numpy, Cython, ...)."""
    run([python, "-m", "venv", venv], log)
    pip = [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    step(f"build venv: torch=={torch} and requirements-build.txt (from the registry)")
    run(pip + build_requirements(root, torch), log)
    got = base_version(probe(os.path.join(venv, "bin", "python"))["torch"])
    if got != torch:
        raise Refused(f"--torch {torch}: the registry gave torch {got}")
    return os.path.join(venv, "bin", "python")


def present_names(path):
    """Canonical names of a target's packages: `pip list --format=freeze` output or one name a line."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.split("#", 1)[0].strip() for line in f]
    except OSError as e:
        raise Refused(f"--target-has {path}: {e.strerror}") from None
    names = {canonical(re.match(r"[A-Za-z0-9._-]*", line).group(0)) for line in lines if line[:1].isalnum()}
    if not names:
        raise Refused(f"--target-has {path}: no package names (expected `pip list --format=freeze` output)")
    return names


def omit_present(work, lines, present):
    """Removes the wheels of packages the target has (not torch's stack, not fairseq-fixed) and their
    requirement lines; returns (the lines left, the names omitted)."""
    omitted = set()
    for w in os.listdir(work):
        name = canonical(w.split("-")[0])
        if w.endswith(".whl") and name in present and name != "fairseq-fixed" and not TORCH_STACK.match(w):
            os.remove(os.path.join(work, w))
            omitted.add(name)
    return [line for line in lines if canonical(re.match(r"[A-Za-z0-9._-]+", line).group(0)) not in omitted], omitted


def collect_wheels(vpy, a, present, work, scratch, log):
    """The carried requirements and fairseq-fixed as wheels in work, writing work/requirements.txt;
    returns (its lines, the names left to the target by --target-has)."""
    lines = wheelhouse_requirements(ROOT, a.torch, a.with_torch)
    wanted = os.path.join(scratch, "requirements.txt")
    with open(wanted, "w") as f:
        f.writelines(line + "\n" for line in lines)
    wheel = [vpy, "-m", "pip", "wheel", "--disable-pip-version-check", "--wheel-dir", work]
    step(f"{len(lines)} requirements and their dependencies as wheels")
    run(wheel + ["--prefer-binary", "-r", wanted], log)
    stray = [w for w in os.listdir(work) if w.endswith(".whl") and TORCH_STACK.match(w)]
    if stray and not a.with_torch:
        raise Refused(f"a carried requirement pulled in {', '.join(sorted(stray))}: the torch stack is carried only "
                      "with --with-torch")
    lines, omitted = omit_present(work, lines, present) if present else (lines, set())
    with open(os.path.join(work, "requirements.txt"), "w") as f:
        f.write("# what `wheelhouse.py install` resolves with --no-index; fairseq-fixed is installed with --no-deps\n")
        f.writelines(line + "\n" for line in lines)
    pin = fairseq_pin(ROOT)
    step(f"{pin}: compiling its extensions against torch {a.torch} (about 2.5 minutes)")
    env = {k: v for k, v in os.environ.items() if k != "CUDA_HOME"}  # CUDA kernels: speech/NAT only, need nvcc
    # --no-cache-dir: pip's wheel cache keys a built wheel by its source alone, whatever torch it was compiled with
    run(wheel + ["--no-deps", "--no-build-isolation", "--no-cache-dir", "--no-binary", "fairseq-fixed", pin], log, env)
    return lines, sorted(omitted)


def required_glibc(wheel):
    """The newest GLIBC_x.y symbol version that the compiled extensions in a wheel ask for (e.g. '2.32')."""
    with zipfile.ZipFile(wheel) as z:
        found = {tuple(map(int, v)) for name in z.namelist() if name.endswith(".so")
                 for v in re.findall(rb"GLIBC_(\d+)\.(\d+)", z.read(name))}
    return "%d.%d" % max(found or {(2, 17)})


def write_manifest(work, a, info, lines, omitted, seconds):
    """wheelhouse.json: what the wheelhouse was built for and holds (install checks the target against it)."""
    wheels = sorted(w for w in os.listdir(work) if w.endswith(".whl"))
    size = sum(os.path.getsize(os.path.join(work, w)) for w in wheels)
    glibc = required_glibc(glob.glob(os.path.join(work, "fairseq_fixed-*.whl"))[0])
    m = {"format": 1, "python": info["python"], "platform": info["platform"], "glibc": glibc,
         "torch": a.torch, "with_torch": a.with_torch, "fairseq": fairseq_pin(ROOT), "requirements": lines,
         "left_to_target": omitted, "wheels": wheels, "bytes": size, "build_seconds": round(seconds)}
    with open(os.path.join(work, MANIFEST), "w") as f:
        json.dump(m, f, indent=1)
    return m


def build(a):
    start = time.time()
    if not os.path.isfile(os.path.join(ROOT, "requirements.txt")):
        raise Refused(f"{ROOT}: no requirements.txt: run the checkout's scripts/wheelhouse.py to build")
    check_out(a.out, a.force)
    info = probe(a.python)
    check_interpreter(a.python, info)
    present = present_names(a.target_has) if a.target_has else None
    if not re.fullmatch(r"\d+\.\d+\.\d+", a.torch):
        raise Refused(f"--torch {a.torch}: expected a release such as 2.11.0 (the target's torch.__version__ "
                      "without its +label)")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    work = tempfile.mkdtemp(prefix=".wheelhouse-", dir=os.path.dirname(os.path.abspath(a.out)))
    venv = tempfile.mkdtemp(prefix="xtune-wheelhouse-venv-")
    log = os.path.join(tempfile.gettempdir(), f"xtune-wheelhouse-build-{os.getpid()}.log")
    open(log, "w").close()
    try:
        vpy = build_venv(a.python, venv, ROOT, a.torch, log)
        lines, omitted = collect_wheels(vpy, a, present, work, venv, log)
        shutil.copy(os.path.abspath(__file__), os.path.join(work, "wheelhouse.py"))
        shutil.copy(log, os.path.join(work, "build.log"))
        m = write_manifest(work, a, info, lines, omitted, time.time() - start)
        if os.path.isdir(a.out):
            shutil.rmtree(a.out)
        os.rename(work, a.out)
        os.remove(log)  # kept (and named) only when the build fails
    finally:
        shutil.rmtree(venv, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    whose = "carried" if a.with_torch else "the target's own"
    print(f"{a.out}: {len(m['wheels'])} wheels, {m['bytes'] / 2**20:.0f} MiB, for CPython {info['python']} on "
          f"{info['platform']} (glibc >= {m['glibc']}), torch {a.torch} ({whose}); "
          f"built in {time.time() - start:.0f} s")


def read_manifest(wheelhouse):
    path = os.path.join(wheelhouse, MANIFEST)
    if not os.path.isfile(path):
        raise Refused(f"{wheelhouse}: no {MANIFEST}: not a folder written by `wheelhouse.py build`")
    with open(path) as f:
        return json.load(f)


def check_target(m, info, python):
    """The target's Python, platform, glibc and (without --with-torch) torch must be the wheelhouse's."""
    if (info["python"], info["platform"]) != (m["python"], m["platform"]):
        raise Refused(f"--python {python}: is Python {info['python']} on {info['platform']}; the wheelhouse is for "
                      f"Python {m['python']} on {m['platform']}")
    version = lambda v: tuple(int(x) for x in re.findall(r"\d+", v or "0"))  # noqa: E731
    if info["glibc"] and version(info["glibc"]) < version(m["glibc"]):
        raise Refused(f"--python {python}: glibc {info['glibc']}, older than the {m['glibc']} that the compiled "
                      "fairseq-fixed needs; build the wheelhouse on a machine with an older glibc")
    if not m["with_torch"] and base_version(info["torch"]) != m["torch"]:
        have = f"torch {info['torch']}" if info["torch"] else "no torch"
        fix = f"--torch {base_version(info['torch'])}" if info["torch"] else f"--torch {m['torch']} --with-torch"
        raise Refused(f"--python {python}: has {have}; the wheelhouse's fairseq-fixed is compiled against torch "
                      f"{m['torch']} and carries no torch: build one with {fix}")


def hermetic_env(target=None):
    """os.environ without PIP_* (pip's own configuration files off too): the install sees this folder alone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    if target:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [target, os.environ.get("PYTHONPATH")]))
    return env


def install(a):
    start = time.time()
    wheelhouse = os.path.abspath(a.wheelhouse)
    m = read_manifest(wheelhouse)
    target = os.path.abspath(a.target) if a.target else None
    info = probe(a.python, target)
    check_target(m, info, a.python)
    log = os.path.join(tempfile.gettempdir(), f"xtune-wheelhouse-install-{os.getpid()}.log")
    pip = [a.python, "-m", "pip", "install", "--disable-pip-version-check", "--no-index", "--no-cache-dir"]
    fairseq = glob.glob(os.path.join(wheelhouse, "fairseq_fixed-*.whl"))
    if target:  # pip ignores what the interpreter has with --target: the whole closure, as built (--upgrade:
        step(f"{len(m['wheels'])} wheels into {target}")  # a package already in the folder is replaced, not kept)
        run(pip + ["--no-deps", "--upgrade", "--target", target] + [os.path.join(wheelhouse, w) for w in m["wheels"]],
            log, hermetic_env())
    else:
        step(f"requirements.txt from {wheelhouse} into {info['executable']}'s environment")
        run(pip + ["--find-links", wheelhouse, "-r", os.path.join(wheelhouse, "requirements.txt")], log, hermetic_env())
        run(pip + ["--no-deps"] + fairseq, log, hermetic_env())
    os.remove(log)  # kept (and named) only when pip fails
    proc = subprocess.run([a.python, "-c", VERIFY], capture_output=True, text=True, env=hermetic_env(target))
    if proc.returncode:
        raise Refused(f"installed, but fairseq does not import: {(proc.stderr.strip() or '?').splitlines()[-1]}")
    print(proc.stdout.strip() + f"; installed in {time.time() - start:.0f} s")
    py = f"PYTHONPATH={target} {a.python}" if target else info["executable"]
    check = f"PYTHONPATH={target} XTUNE_PYTHON={a.python}" if target else f"XTUNE_PYTHON={info['executable']}"
    print(f"from the checkout: {check} scripts/gpu-check.sh; {py} -m xtune_fairseq.cli.pipeline ...")


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build a wheelhouse (needs the registry)")
    b.add_argument("--python", required=True, help="an interpreter of the target's Python version (e.g. python3.12)")
    b.add_argument("--torch", required=True, help="the target's torch version, which fairseq-fixed is compiled "
                   "against (e.g. 2.11.0)")
    b.add_argument("--out", required=True, help="the wheelhouse folder to write")
    b.add_argument("--with-torch", action="store_true", help="carry torch and its dependencies too (a CUDA build "
                   "from PyPI is several GB); default: the target's own torch")
    b.add_argument("--target-has", metavar="FILE", help="the target's `pip list --format=freeze`: packages it "
                   "has (any version) are left out, and its versions used; a smaller wheelhouse")
    b.add_argument("--force", action="store_true", help="replace a wheelhouse already at --out")
    i = sub.add_parser("install", help="install a wheelhouse with --no-index (no registry needed)")
    i.add_argument("wheelhouse", help="the folder `build` wrote")
    i.add_argument("--python", default=sys.executable, help="the interpreter to install for (default: this one)")
    i.add_argument("--target", help="install into this folder (pip --target; then PYTHONPATH=it) instead of "
                   "--python's environment")
    return p.parse_args(argv)


def main(argv=None):
    a = parse(argv)
    try:
        build(a) if a.command == "build" else install(a)
    except Refused as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
