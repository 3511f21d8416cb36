"""Writes that never leave half a file: a temporary sibling, renamed into place when complete."""

import contextlib
import os
import shutil


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
