"""Text -> fairseq token ids for XLM-R-format models (sentencepiece pieces + dict.txt)."""

import unicodedata
from typing import Callable, Dict, List, Sequence


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
