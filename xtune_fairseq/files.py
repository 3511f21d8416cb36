"""Writes that never leave half a file or folder (a temporary sibling, renamed into place when
complete) and never replace what the user owns (check_replaceable)."""

import contextlib
import os
import re
import shutil
import socket
import tempfile
from dataclasses import dataclass
from typing import Iterable

from xtune_fairseq.errors import InputError


def _temporary(path: str) -> str:
    return f"{path}.tmp-{os.getpid()}"


@contextlib.contextmanager
def atomic_open(path: str, mode: str = "w", **kwargs):
    """open() for writing whose result appears at `path` only if the block completes."""
    tmp = _temporary(path)
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_copy(src: str, dst: str) -> None:
    tmp = _temporary(dst)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@dataclass(frozen=True)
class OutputDir:
    """A folder one of our commands writes whole: `marker` is a file only that command writes,
    `names` every top-level entry it may hold, `temp` the prefix of its temporary folders."""
    what: str
    marker: str
    names: frozenset
    temp: str


def check_replaceable(dest: str, flag: str, kind: OutputDir, inputs: Iterable[str] = (), force: bool = False) -> None:
    """Raises InputError unless writing a folder at dest loses nothing of the user's: dest may be
    missing, empty, or a folder of `kind` with nothing added to it. --force allows any other folder,
    but never the current one, an input of the command, one that holds an input or lies inside one."""
    where = f"{flag} {dest}"
    real = os.path.realpath(dest)
    if _within(os.path.realpath(os.getcwd()), real):
        raise InputError(f"{where}: is the current folder or holds it; choose another {flag}")
    _check_not_input(real, where, flag, [p for p in inputs if p])
    if os.path.islink(dest) or (os.path.lexists(dest) and not os.path.isdir(dest)):
        raise InputError(f"{where}: is a file or a link, not a folder this command wrote; choose another {flag}")
    if not os.path.isdir(dest) or force:
        return
    entries = sorted(os.listdir(dest))
    if entries and kind.marker not in entries:
        raise InputError(f"{where}: folder is not empty and is not {kind.what} (no {kind.marker}); "
                         f"choose another {flag}, or pass --force to replace it")
    foreign = [e for e in entries if e not in kind.names]
    if foreign:
        raise InputError(f"{where}: holds {', '.join(foreign[:3])}, which this command did not write; "
                         f"choose another {flag}, or pass --force to replace it")


def check_output_file(path: str, flag: str, inputs: Iterable[str] = ()) -> None:
    """A file a command writes by name: overwriting it is the point, unless it is a folder or one of
    the command's own inputs (e.g. --out naming the checkpoint being read)."""
    if os.path.isdir(path):
        raise InputError(f"{flag} {path}: is a folder; {flag} names a file")
    real = os.path.realpath(path)
    if any(p and os.path.realpath(p) == real for p in inputs):
        raise InputError(f"{flag} {path}: is an input of this command; choose another {flag}")


def _check_not_input(real: str, where: str, flag: str, inputs) -> None:
    for path in inputs:
        other = os.path.realpath(path)
        relation = "is" if real == other else f"holds {path}," if _within(other, real) else \
            f"is inside {path}," if _within(real, other) else None
        if relation:
            raise InputError(f"{where}: {relation} an input of this command; choose another {flag}")


def _within(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


@contextlib.contextmanager
def dir_in_progress(dest: str, flag: str, kind: OutputDir, inputs: Iterable[str] = (), force: bool = False):
    """A temporary folder next to dest, swapped into place when the block completes; an existing
    dest stays whole until then, and a failed or interrupted run leaves neither half a dest nor
    the temporary folder (one left by a killed run is removed by the next run beside it)."""
    inputs = list(inputs)
    check_replaceable(dest, flag, kind, inputs, force)
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    remove_stale_temps(parent)
    work = tempfile.mkdtemp(prefix=f"{kind.temp}{_owner()}-", dir=parent)
    try:
        yield work
        check_replaceable(dest, flag, kind, inputs, force)  # the run may have been long
        _replace_dir(work, dest)
    finally:
        if os.path.isdir(work):
            shutil.rmtree(work)


# temporary folders: .tmp-xtune-KIND-PID-HOST-random, .old-xtune-PID-HOST-random (what a swap moves
# aside); the owner in the name lets the next run tell a killed run's folder from a running one's
_TEMP_NAME = re.compile(r"^\.(?:tmp|old)-xtune-(?:[a-z]+-)?(\d+)-(.*)-[a-z0-9_]+$")


def _owner() -> str:
    return f"{os.getpid()}-{socket.gethostname()}"


def remove_stale_temps(parent: str) -> None:
    """Temporary folders in parent left by killed runs on this host (their process is gone)."""
    for name in os.listdir(parent):
        m = _TEMP_NAME.match(name)
        if m and m.group(2) == socket.gethostname() and not _alive(int(m.group(1))):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return True


def _replace_dir(new: str, dest: str) -> None:
    """Swap `new` into `dest`; an existing `dest` stays whole until the new one is in place."""
    os.chmod(new, 0o755)
    old = None
    if os.path.exists(dest):
        old = tempfile.mkdtemp(prefix=f".old-xtune-{_owner()}-", dir=os.path.dirname(os.path.abspath(dest)))
        os.rmdir(old)
        os.replace(dest, old)
    try:
        os.replace(new, dest)
    except BaseException:  # Ctrl-C between the two renames: put the old one back
        if old:
            os.replace(old, dest)
        raise
    if old:
        shutil.rmtree(old)
