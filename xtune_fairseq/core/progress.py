"""Progress lines on stderr for the long steps of the data commands (xtune-preprocess: reading,
encoding, writing meta/SPLIT.jsonl), as fairseq shows progress while it trains: one line such as

    [preprocess] train: encoded 20000/40000 rows

once a step has run INTERVAL seconds, then every INTERVAL seconds; a step that ends sooner prints
none (a small file: nothing, so a failing command's stderr stays its one `error:` line). INTERVAL is
XTUNE_PROGRESS_INTERVAL (seconds, default 2; 0: a line at every row counted; 'off': none). Only
stderr: result files and stdout stay as they were. Pure: no fairseq import."""

import os
import sys
import time
from typing import Callable, Iterable, Iterator, Optional, TypeVar

from xtune_fairseq.core.errors import InputError

T = TypeVar("T")
ENV = "XTUNE_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 2.0


def interval_from_env() -> Optional[float]:
    """Seconds between two lines (None: no lines), from XTUNE_PROGRESS_INTERVAL."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return DEFAULT_INTERVAL
    if text.lower() == "off":
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise InputError(f"{ENV}={text}: expected seconds between progress lines (a number >= 0) or 'off'")
    return seconds


class Progress:
    """Counts the rows of one step; count(n) prints `LABEL COUNT[/TOTAL] UNIT` once `interval` seconds
    (default: XTUNE_PROGRESS_INTERVAL) passed since the step began or since its last line."""

    def __init__(self, label: str, total: Optional[int] = None, unit: str = "rows",
                 interval: Optional[float] = None, stream=None, clock: Callable[[], float] = time.monotonic):
        self.label, self.total, self.unit, self.stream, self.clock = label, total, unit, stream, clock
        self.interval = interval_from_env() if interval is None else interval
        self.done = 0
        self.last = clock()

    def count(self, n: int = 1) -> None:
        self.done += n
        if self.interval is None:
            return
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            of = f"/{self.total}" if self.total is not None else ""
            print(f"{self.label} {self.done}{of} {self.unit}", file=self.stream or sys.stderr, flush=True)


def progress(rows: Iterable[T], label: str, total: Optional[int] = None, unit: str = "rows",
             interval: Optional[float] = None) -> Iterator[T]:
    """The rows, unchanged, counted by a Progress as they are taken (total: len(rows) where it has one)."""
    if total is None and hasattr(rows, "__len__"):
        total = len(rows)
    counter = Progress(label, total, unit, interval)
    for row in rows:
        yield row
        counter.count()
