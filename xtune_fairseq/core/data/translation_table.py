"""meta/translations.jsonl as {training id: its translations}, read from the file on demand.

Why: XNLI's translate-train set is about 5.5M rows (392,702 pairs x 14 languages). As Python
objects in a dict that is several GB in the training process, and again in every forked loader
worker that touches it (copy-on-write of reference counts). Here the file is memory-mapped (its
pages are shared by every process and stay in the page cache between runs) and the table holds
only numpy arrays: each row's byte range, grouped by training id, and a 64-bit hash per id to find
the group (about 16 bytes a row). A row is parsed when it is read; the MT view reads one
translation of a row per epoch. No fairseq import.
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Iterator

import numpy as np

from xtune_fairseq.core.errors import InputError


def id_hash(example_id: str) -> int:
    """A stable 64-bit hash (Python's hash() changes between processes)."""
    return int.from_bytes(hashlib.blake2b(example_id.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


def _line_ranges(buf: np.ndarray, block: int = 1 << 24):
    """(starts, ends) of the non-blank lines of a byte buffer (a last line without newline too);
    scanned by blocks, so that no mask as large as the file is made."""
    ends = np.concatenate([np.flatnonzero(buf[i:i + block] == ord("\n")) + i for i in range(0, len(buf), block)]
                          or [np.zeros(0, dtype=np.int64)])
    if len(buf) and buf[-1] != ord("\n"):
        ends = np.append(ends, len(buf))
    if not len(ends):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    keep = ends - starts > (buf[np.maximum(ends - 1, 0)] == ord("\r"))  # blank lines, CRLF ones too
    return starts[keep], ends[keep].astype(np.int64)


class TranslationGroup(Sequence):
    """One training id's translations, in file order; each parsed when indexed."""

    def __init__(self, table: "TranslationTable", group: int):
        self.table, self.lo, self.hi = table, int(table.group_start[group]), int(table.group_start[group + 1])

    def __len__(self):
        return self.hi - self.lo

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        return self.table.row(self.lo + range(len(self))[k])

    def __eq__(self, other):
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self):
        return f"TranslationGroup({list(self)!r})"


class TranslationTable(Mapping):
    """{training id: TranslationGroup} over a JSON-lines file whose rows have an "id" field;
    row_of(dict) makes a row (and raises KeyError/TypeError/ValueError on a malformed one).
    Every line is parsed once here, so a bad line fails now, naming the file and line."""

    def __init__(self, path: str, row_of: Callable[[dict], Any]):
        self.path, self.row_of = path, row_of
        self._open()
        starts, ends = _line_ranges(self.buf)
        group_of_id, group = {}, np.empty(len(starts), dtype=np.int64)
        for i in range(len(starts)):
            example_id = self._parse(int(starts[i]), int(ends[i])).id
            group[i] = group_of_id.setdefault(example_id, len(group_of_id))
        order = np.argsort(group, kind="stable")  # rows of an id together, in file order
        self.start, self.end = starts[order], ends[order]
        self.group_start = np.searchsorted(group[order], np.arange(len(group_of_id) + 1)).astype(np.int64)
        hashes = np.fromiter((id_hash(i) for i in group_of_id), dtype=np.int64, count=len(group_of_id))
        self.key_order = np.argsort(hashes, kind="stable")  # group numbers by hash
        self.hashes = hashes[self.key_order]

    def _open(self):
        with open(self.path, "rb") as f:
            empty = not f.read(1)
        self.buf = np.zeros(0, dtype=np.uint8) if empty else np.memmap(self.path, dtype=np.uint8, mode="r")

    def __getstate__(self):  # a spawned worker maps the file itself
        return {k: v for k, v in self.__dict__.items() if k != "buf"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._open()

    def _parse(self, start: int, end: int):
        text = self.buf[start:end].tobytes()
        try:
            return self.row_of(json.loads(text))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            line = int(np.count_nonzero(self.buf[:start] == ord("\n"))) + 1
            raise InputError(f"{self.path}:{line}: not a translation row written by xtune-preprocess ({e})") from None

    def row(self, i: int):
        """The i-th row in grouped order."""
        return self._parse(int(self.start[i]), int(self.end[i]))

    def _group(self, example_id: str):
        if not isinstance(example_id, str):
            return None
        h = id_hash(example_id)
        i = int(np.searchsorted(self.hashes, h))
        while i < len(self.hashes) and self.hashes[i] == h:  # a hash collision: compare the ids
            g = int(self.key_order[i])
            if self.row(int(self.group_start[g])).id == example_id:
                return g
            i += 1
        return None

    def __getitem__(self, example_id: str) -> TranslationGroup:
        g = self._group(example_id)
        if g is None:
            raise KeyError(example_id)
        return TranslationGroup(self, g)

    def __contains__(self, example_id) -> bool:
        return self._group(example_id) is not None

    def __len__(self):
        return len(self.group_start) - 1

    def __iter__(self) -> Iterator[str]:
        """Ids in order of first appearance in the file (as a dict built row by row)."""
        return (self.row(int(self.group_start[g])).id for g in range(len(self)))
