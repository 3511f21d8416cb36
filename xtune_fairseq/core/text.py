"""Text -> fairseq token ids for XLM-R-format models (sentencepiece pieces + dict.txt), and the user's
text files read (open_text, read_json, read_jsonl): a missing file, bytes that are not UTF-8 or JSON
that is not end in one line naming the file and line, never a traceback from deep in a reader."""

import contextlib
import json
import os
import unicodedata
from typing import Callable, Dict, List, Sequence

from xtune_fairseq.core.errors import InputError


class TextEncoder:
    """Builds model inputs `<s> a </s>` or `<s> a </s> </s> b </s>` from pieces.

    index: piece -> fairseq id (a fairseq Dictionary's `index`); unknown pieces map to <unk>.
    The layout matches fairseq's sentence_prediction task on fairseq-preprocess output.
    """

    def __init__(self, index: Callable[[str], int], bos: int, eos: int, max_positions: int, sep: int = None):
        self.index, self.bos, self.eos, self.max_positions = index, bos, eos, max_positions
        self.sep = eos if sep is None else sep
        # piece -> id of the pieces seen: a dict lookup is several times cheaper than a call of
        # Dictionary.index, and views look up every piece of every row every epoch (at most one
        # entry per piece of the vocabulary)
        self._known: Dict[str, int] = {}

    def ids(self, pieces: Sequence[str]) -> List[int]:
        known = self._known
        try:
            return [known[p] for p in pieces]
        except KeyError:
            for p in pieces:
                if p not in known:
                    known[p] = self.index(p)
            return [known[p] for p in pieces]

    def build(self, texts_ids: Sequence[Sequence[int]]) -> List[int]:
        out = [self.bos] + list(texts_ids[0]) + [self.eos]
        for ids in texts_ids[1:]:
            out += [self.sep] + list(ids) + [self.eos]
        if len(out) > self.max_positions:  # keep the closing </s>
            out = out[: self.max_positions - 1] + [self.eos]
        return out


def is_blank(text: str) -> bool:
    """Nothing visible: only whitespace and format characters (zero-width space and joiners, BOM),
    which str.strip() keeps and sentencepiece's normaliser removes, leaving an empty input."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)


# --- reading the user's text files: a missing file or bytes that are not UTF-8 end in one line naming
# the file, the line and the byte offset (not a UnicodeDecodeError traceback from deep in a reader)

def _first_undecodable(path: str):
    """(line number, byte offset, byte, reason) of the first byte of the file that is not UTF-8, or None.
    A multi-byte character never holds a newline byte, so each line decodes on its own."""
    offset = 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                return lineno, offset + e.start, raw[e.start], e.reason
            offset += len(raw)
    return None


def not_utf8(path: str, expected: str = "UTF-8 text") -> InputError:
    """The InputError for a file that is not UTF-8 (its first bad byte's line and offset); raise it."""
    found = _first_undecodable(path)
    if found is None:
        return InputError(f"{path}: not UTF-8 text; expected {expected}")
    lineno, offset, byte, reason = found
    return InputError(f"{path}:{lineno}: not UTF-8 text (0x{byte:02x} at byte {offset}: {reason}); expected {expected}")


@contextlib.contextmanager
def open_text(path: str, expected: str = "UTF-8 text", missing: str = None, newline: str = None):
    """open(path) for reading a user's text file, a byte order mark dropped. A missing file (message
    `missing`, default 'PATH: file not found'), or bytes that are not UTF-8 met anywhere in the block,
    end in an InputError naming the file, the line, the byte offset and `expected`."""
    if not os.path.isfile(path):
        found = f"{path}: a folder, not a file" if os.path.isdir(path) else f"{path}: file not found"
        raise InputError(missing or f"{found}; expected {expected}")
    try:
        with open(path, encoding="utf-8-sig", newline=newline) as f:
            yield f
    except UnicodeDecodeError:
        if _first_undecodable(path) is None:  # not this file's bytes
            raise
        raise not_utf8(path, expected) from None


def read_json(path: str, expected: str, missing: str = None):
    """The JSON document of a user's file: not UTF-8 or not JSON ends in one line naming file and line."""
    with open_text(path, expected, missing) as f:
        text = f.read()
    if not text.strip():
        raise InputError(f"{path}: empty file; expected {expected}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}:{e.colno}: not JSON ({e.msg}); expected {expected}") from None


def read_jsonl(path: str, expected: str, missing: str = None):
    """(line number, value) of each line of a JSON-lines file; a line that is not JSON (a last line cut
    short by an interrupted write, say) ends in one line naming file and line."""
    with open_text(path, expected, missing) as f:
        for lineno, line in enumerate(f, 1):
            try:
                value = json.loads(line)
            except json.JSONDecodeError as e:
                # only the last line can lack its newline
                what = "not JSON" if line.endswith("\n") else "last line cut short, no newline at its end"
                raise InputError(f"{path}:{lineno}: {what} ({e.msg} at column {e.colno}); "
                                 f"expected {expected}") from None
            yield lineno, value
