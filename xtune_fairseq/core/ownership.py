"""What a command wrote, told from what the user owns (files.py's checks read it):

- a folder written whole (files.dir_in_progress) lists its files in its marker (a JSON object's
  FILES), so that a file added anywhere in it, at any depth, is the user's (foreign_files);
- a file a command writes by name has a hidden marker `.NAME.xtune` beside it with the command's
  name and the sha256 of what it wrote (mark_output), so that a later run of that command may
  replace it while it is unchanged, and nothing else is replaced without --force (not_own_output).
"""

import fnmatch
import hashlib
import json
import os

FILES = "files"  # the marker's list of the files the command wrote, relative to the folder, '/'-separated


def is_kind(folder: str, kind) -> bool:
    """Whether folder holds kind's marker (or a file that marks an older version's folder of kind)."""
    return any(os.path.isfile(os.path.join(folder, name)) for name in (kind.marker,) + tuple(kind.legacy))


def named(kind, name: str) -> bool:
    """Whether a top-level entry is one of kind's names (or matches one of its glob patterns)."""
    return name in kind.names or any(fnmatch.fnmatchcase(name, p) for p in kind.names if "*" in p)


def listed_files(marker: str):
    """The FILES list of a marker, as a set; None where it has none (an older version's marker, or one
    of a folder filled in place)."""
    try:
        with open(marker, encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None
    listed = info.get(FILES) if isinstance(info, dict) else None
    return set(listed) if isinstance(listed, list) else None


def foreign_files(folder: str, kind, temporary=lambda name: False) -> list:
    """What folder holds that its command did not write: every file or link, at any depth, that the
    marker does not list (a nested folder of kind.nested by its own marker; the command's own
    temporary folders aside), or, where the marker lists none, every top-level entry that is not one
    of kind's names."""
    listed = listed_files(os.path.join(folder, kind.marker))
    if listed is None:
        return [e for e in sorted(os.listdir(folder)) if not named(kind, e)]
    listed.add(kind.marker)
    nested = {sub.strip("/"): sub_kind for sub, sub_kind in kind.nested}
    foreign = []
    for root, dirs, files in os.walk(folder):
        rel_root = os.path.relpath(root, folder).replace(os.sep, "/")

        def rel(name):
            return name if rel_root == "." else f"{rel_root}/{name}"

        walked = []
        for d in sorted(dirs):
            path = os.path.join(root, d)
            if os.path.islink(path):
                foreign.append(rel(d))
            elif temporary(d):
                continue  # a run's temporary folder: the next run beside it removes it
            elif rel_root in nested:
                sub_kind = nested[rel_root]
                inner = foreign_files(path, sub_kind, temporary) if is_kind(path, sub_kind) else all_files(path)
                foreign += [f"{rel(d)}/{f}" for f in inner]
            else:
                walked.append(d)
        dirs[:] = walked
        foreign += [rel(f) for f in sorted(files) if rel(f) not in listed]
    return foreign


def all_files(folder: str) -> list:
    return sorted(os.path.relpath(os.path.join(root, f), folder).replace(os.sep, "/")
                  for root, _, files in os.walk(folder) for f in files)


def record_files(work: str, kind) -> None:
    """Adds the list of the files in work to its marker (a JSON object; any other marker is left as
    it is), so that a later run can tell a file added to the folder from its own."""
    marker = os.path.join(work, kind.marker)
    try:
        with open(marker, encoding="utf-8") as f:
            text = f.read()
        info = json.loads(text)
    except (OSError, ValueError):
        return
    if not isinstance(info, dict):
        return
    info[FILES] = [f for f in all_files(work) if f != kind.marker]
    with open(marker, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=1 if "\n" in text.strip() else None)
        f.write("\n" if text.endswith("\n") else "")


# --- files a command writes by name

def output_marker(path: str) -> str:
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.xtune")


def not_own_output(path: str, command: str):
    """Why the existing file at path is not command's previous output as command wrote it, or None."""
    marker = output_marker(path)
    if os.path.islink(path) or not os.path.isfile(path):
        return "is a link or not a regular file, not a file this command wrote"
    try:
        with open(marker, encoding="utf-8") as f:
            info = json.load(f)
    except FileNotFoundError:
        return f"exists and {command} did not write it (no {os.path.basename(marker)} beside it)"
    except (OSError, ValueError):
        return f"exists and its marker {os.path.basename(marker)} is unreadable"
    by = info.get("written_by") if isinstance(info, dict) else None
    if by != command:
        return f"was written by {by}, not {command}"
    if info.get("sha256") != file_sha256(path):
        return f"was changed since {command} wrote it"
    return None


def mark_output(path: str, command: str) -> None:
    """Records beside path that command wrote it as it is now, so that files.check_output_file lets
    a later run of command replace it."""
    marker = output_marker(path)
    tmp = f"{marker}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"written_by": command, "sha256": file_sha256(path)}, f)
            f.write("\n")
        os.replace(tmp, marker)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


_sha256_of = {}


def file_sha256(path: str) -> str:
    """sha256 of a file's bytes, computed once per (path, size, mtime) in a process: the digest every
    record of a file uses (output markers, teacher caches, binarized views, a run's data)."""
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _sha256_of:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _sha256_of[key] = h.hexdigest()
    return _sha256_of[key]
