"""Progress lines on stderr for the long steps of the data commands (xtune-preprocess: reading,
encoding, writing meta/SPLIT.jsonl, fairseq-preprocess's binarizing), as fairseq shows progress while
it trains: one line such as

    [preprocess] train: encoded 20000/40000 rows

once a step has run INTERVAL seconds, then every INTERVAL seconds, and one with the final count when
a step that printed lines ends; a step that ends sooner prints none (a small file: nothing, so a
failing command's stderr stays its one `error:` line). INTERVAL is XTUNE_PROGRESS_INTERVAL (seconds,
default 2; 0: a line at every row counted; 'off': none). Only stderr: result files and stdout stay as
they were. A step that another library runs (fairseq-preprocess) is followed from outside: `watching`
counts what its files hold while it runs. Pure: no fairseq import."""

import contextlib
import os
import sys
import threading
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
        self.shown = None  # the count of the last line printed (None: none yet)
        self.last = clock()

    def count(self, n: int = 1) -> None:
        self.done += n
        if self.interval is None:
            return
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self._line()

    def close(self) -> None:
        """The step ended: a line with its final count, if it printed lines and not this count yet."""
        if self.shown is not None and self.shown != self.done:
            self._line()

    def _line(self) -> None:
        self.shown = self.done
        of = f"/{self.total}" if self.total is not None else ""
        with _PRINTING:
            print(f"{self.label} {self.done}{of} {self.unit}", file=self.stream or sys.stderr, flush=True)


# A line is printed whole before a fork (fairseq-preprocess --workers forks while `watching` prints from
# its thread): a child never starts with stderr's lock held by a thread it does not have.
_PRINTING = threading.Lock()
os.register_at_fork(before=_PRINTING.acquire, after_in_parent=_PRINTING.release, after_in_child=_PRINTING.release)


def progress(rows: Iterable[T], label: str, total: Optional[int] = None, unit: str = "rows",
             interval: Optional[float] = None) -> Iterator[T]:
    """The rows, unchanged, counted by a Progress as they are taken (total: len(rows) where it has one)."""
    if total is None and hasattr(rows, "__len__"):
        total = len(rows)
    counter = Progress(label, total, unit, interval)
    for row in rows:
        yield row
        counter.count()
    counter.close()


@contextlib.contextmanager
def watching(measure: Callable[[], int], label: str, total: int, unit: str, interval: Optional[float] = None,
             poll: float = 0.2):
    """While the block runs, a thread calls measure() (how many units are done: e.g. token ids written,
    from the sizes of the files being written) every `poll` seconds (every `interval` when shorter, at
    least 20 ms) and prints through a Progress(label, total, unit); counts never exceed total nor go back."""
    counter = Progress(label, total, unit, interval)
    if counter.interval is None:
        yield counter
        return
    stop = threading.Event()

    def more() -> int:  # units done since the last count; 0 when measure() failed (a file gone): measured again later
        try:
            return max(0, min(measure(), total) - counter.done)
        except Exception:
            return 0

    def follow():
        while not stop.wait(max(0.02, min(poll, counter.interval))):
            n = more()
            if n or counter.interval:  # interval 0: a line when the count moves, not one every poll
                counter.count(n)

    thread = threading.Thread(target=follow, name=f"progress {label}", daemon=True)
    thread.start()
    try:
        yield counter
    finally:
        stop.set()
        thread.join()
    counter.count(more())
    counter.close()
