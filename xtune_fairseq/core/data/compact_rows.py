"""A split's rows in a few flat numpy buffers, each row's small object built when it is indexed.

Why: fairseq's loader workers (--num-workers) are forked from the training process. A list of
per-row Python objects is shared with them only until they touch it: reading a row writes its
reference counts and the garbage collector's traversals write every tracked object's header, so
each worker ends up with its own copy of every page holding rows (copy-on-write): hundreds of MB
a worker at XNLI's size. Numpy buffers are a handful of objects whose data pages are only ever
read, so the workers keep sharing them. Indexing builds the same object the list held (an equal
`Example` or `TaggedSentence`), so a CompactRows stands in for the list wherever rows are read by
index, iterated or counted. No fairseq import.
"""

from array import array
from typing import Callable, Iterable, List, Optional, Sequence

import numpy as np


class Strings:
    """Strings as one UTF-8 byte buffer and int64 offsets: strings[i] is the i-th string."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray):
        self.data, self.offsets = data, offsets

    @classmethod
    def of(cls, strings: Iterable[str]) -> "Strings":
        data, offsets = bytearray(), array("q", [0])
        for s in strings:
            data += s.encode("utf-8")
            offsets.append(len(data))
        # copies: a tight buffer, and the builders' memory freed at once
        return cls(np.frombuffer(data, dtype=np.uint8).copy(), np.array(offsets, dtype=np.int64))

    def __len__(self):
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        return self.data[self.offsets[i]:self.offsets[i + 1]].tobytes().decode("utf-8")


class Codes:
    """Values of a small vocabulary (languages, labels, tags) as int32 codes; code -1 is None.
    The few distinct values are Python strings (shared, read-only in practice)."""

    def __init__(self, values: Iterable[Optional[str]]):
        index, codes = {}, array("i")
        for v in values:
            codes.append(-1 if v is None else index.setdefault(v, len(index)))
        self.names: List[str] = list(index)
        self.codes = np.array(codes, dtype=np.int32)

    def __len__(self):
        return len(self.codes)

    def __getitem__(self, i: int) -> Optional[str]:
        code = int(self.codes[i])
        return None if code < 0 else self.names[code]


class Ragged:
    """Rows of several items (a pair's texts, a sentence's words or tags) as one flat column and
    int64 row starts; a row may be None (an untagged sentence). row[i] is a tuple, like the list's."""

    def __init__(self, rows: Iterable[Optional[Sequence[str]]], column: Callable[[Iterable[str]], object] = Strings.of):
        flat, starts, missing = [], array("q", [0]), array("b")
        for row in rows:
            missing.append(row is None)
            flat.extend(() if row is None else row)
            starts.append(len(flat))
        self.items = column(flat)
        self.starts, self.missing = np.array(starts, dtype=np.int64), np.array(missing, dtype=bool)

    def __len__(self):
        return len(self.starts) - 1

    def __getitem__(self, i: int):
        if self.missing[i]:
            return None
        return tuple(self.items[k] for k in range(self.starts[i], self.starts[i + 1]))


class IntLists:
    """Lists of ints (token ids, word maps, tag ids) as one flat int64 array and row starts:
    lists[i] is a list, as encoded; row(i) the array slice."""

    def __init__(self, lists: Iterable[Sequence[int]]):
        flat, starts = array("q"), array("q", [0])
        for row in lists:
            flat.extend(row)
            starts.append(len(flat))
        self.flat, self.starts = np.array(flat, dtype=np.int64), np.array(starts, dtype=np.int64)

    def __len__(self):
        return len(self.starts) - 1

    def row(self, i: int) -> np.ndarray:
        return self.flat[self.starts[i]:self.starts[i + 1]]

    def __getitem__(self, i: int) -> List[int]:
        return self.row(i).tolist()

    def lengths(self) -> np.ndarray:
        return np.diff(self.starts)


class CompactRows:
    """A sequence of rows made by make(*fields) from columns of equal length: indexed, iterated and
    counted like the list of made rows (negative indices too; a slice gives a list)."""

    def __init__(self, make: Callable, columns: Sequence):
        lengths = {len(c) for c in columns}
        if len(lengths) != 1:
            raise ValueError(f"columns of different lengths {sorted(lengths)}")
        self.make, self.columns, self.n = make, tuple(columns), lengths.pop()

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self.n))]
        k = range(self.n)[i]  # an index as a list takes it: negative from the end, IndexError beyond
        return self.make(*(c[k] for c in self.columns))

    def __iter__(self):
        return (self[k] for k in range(self.n))
