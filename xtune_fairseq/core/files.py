"""Writes that never leave half a file or folder (a temporary sibling, renamed into place when
complete) and never replace what the user owns (check_replaceable)."""

import contextlib
import json
import os
import re
import shutil
import socket
import tempfile
from dataclasses import dataclass
from typing import Iterable

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.ownership import foreign_files, is_kind, not_own_output, record_files


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
    """A folder one of our commands writes: `marker` is a file only that command writes, `names`
    every top-level entry it may hold (a name or a glob pattern), `temp` the prefix of its temporary
    folders. Written whole, it lists its files in the marker (ownership.py), so that a file added at
    any depth is told from the command's own. `nested`: (subfolder, kind) of the folders of another
    kind it may hold there, each checked by its own marker (a data directory's views/NAME); `legacy`:
    files that mark a folder of this kind an older version wrote without the marker."""
    what: str
    marker: str
    names: frozenset
    temp: str
    nested: tuple = ()
    legacy: tuple = ()


def check_replaceable(dest: str, flag: str, kind: OutputDir, inputs: Iterable[str] = (), force: bool = False) -> None:
    """Raises InputError unless writing a folder at dest loses nothing of the user's: dest may be
    missing, empty, or a folder of `kind` with nothing added to it at any depth. --force allows any
    other folder, but never the current one, an input of the command, one that holds an input or
    lies inside one."""
    if _within(os.path.realpath(os.getcwd()), os.path.realpath(dest)):
        raise InputError(f"{flag} {dest}: is the current folder or holds it; choose another {flag}")
    _check_folder(dest, flag, kind, inputs, force)


def _check_folder(dest: str, flag: str, kind: OutputDir, inputs: Iterable[str], force: bool) -> None:
    where = f"{flag} {dest}"
    _check_not_input(os.path.realpath(dest), where, flag, [p for p in inputs if p])
    if os.path.islink(dest) or (os.path.lexists(dest) and not os.path.isdir(dest)):
        raise InputError(f"{where}: is a file or a link, not a folder this command wrote; choose another {flag}")
    if not os.path.isdir(dest) or force:
        return
    if os.listdir(dest) and not is_kind(dest, kind):
        raise InputError(f"{where}: folder is not empty and is not {kind.what} (no {kind.marker}); "
                         f"choose another {flag}, or pass --force to replace it")
    foreign = foreign_files(dest, kind, _TEMP_NAME.match)
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        raise InputError(f"{where}: holds {', '.join(foreign[:3])}{more}, which this command did not write; "
                         f"choose another {flag}, or pass --force to replace it")


def open_output_dir(dest: str, flag: str, kind: OutputDir, inputs: Iterable[str] = (), force: bool = False) -> None:
    """A folder a command fills in place over several runs (xtune-pipeline's run folder): the checks
    of check_replaceable at the top level, the current folder or one holding an input allowed (it is
    never replaced whole); then made, with kind's marker, where missing or empty (or with force)."""
    real = os.path.realpath(dest)
    inputs = [p for p in inputs if p and (os.path.realpath(p) == real or not _within(os.path.realpath(p), real))]
    _check_folder(dest, flag, kind, inputs, force)
    os.makedirs(dest, exist_ok=True)
    if not os.path.isfile(os.path.join(dest, kind.marker)):
        with atomic_open(os.path.join(dest, kind.marker)) as f:
            f.write(json.dumps({"format": 1, "written_by": kind.what}) + "\n")


def check_output_file(path: str, flag: str, inputs: Iterable[str] = (), command: str = None,
                      force: bool = False) -> None:
    """A file a command writes by name: never a folder, one of the command's inputs (e.g. --out naming
    the checkpoint being read) or a path inside an input folder (the data directory read), not even
    with force. With `command` (the CLI's name), an existing file is replaced only if it is that
    command's own previous output, unchanged since (ownership.mark_output), or with force; without,
    overwriting it is the point."""
    if os.path.isdir(path):
        raise InputError(f"{flag} {path}: is a folder; {flag} names a file")
    real = os.path.realpath(path)
    for p in filter(None, inputs):
        if os.path.realpath(p) == real:
            raise InputError(f"{flag} {path}: is an input of this command; choose another {flag}")
        if _within(real, os.path.realpath(p)):
            raise InputError(f"{flag} {path}: is inside {p}, an input of this command (a folder it reads); "
                             f"choose another {flag}")
    problem = None if command is None or force or not os.path.lexists(path) else not_own_output(path, command)
    if problem:
        raise InputError(f"{flag} {path}: {problem}; expected a new file or {command}'s own previous output: "
                         f"choose another {flag}, or pass --force to replace it")


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
        record_files(work, kind)
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
