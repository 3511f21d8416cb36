"""Contexts -> words with character offsets -> pieces -> model windows `<s> q </s></s> ctx </s>`.

Long contexts are cut into overlapping windows as in BERT's SQuAD code: each window
holds at most max_length tokens, the next starts doc_stride context pieces later.

Words are what sentencepiece segments one at a time, each with its own `▁`. By default they are
the authors' (xtune's squad.py: runs of text between spaces, each tokenized alone), which is what
transformers' XLM-R tokenizer does to a whole string. `xtune-preprocess --qa-word-split character`
also makes every character of a script written without spaces a word (see split_words); the
choice is recorded in xtune.json (INFO_KEY) and the exported tokenizer follows it (UNSPACED_REGEX).
"""

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, List, Optional, Sequence, Tuple

from xtune_fairseq.core.errors import InputError

WORD_BOUNDARY = "\u2581"  # sentencepiece's marker for a preceding space
N_SPECIALS = 4  # <s> question </s> </s> context </s>

Span = Tuple[int, int]  # characters [start, end) of the context

# Scripts written without spaces between words: CJK ideographs, kana, CJK and full-width
# punctuation, Thai, Lao, Myanmar, Khmer.
_UNSPACED = (
    (0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x3000, 0x30FF), (0x31F0, 0x31FF),
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF), (0x20000, 0x2FA1F),
)
# What the exported tokenizer isolates (a tokenizers Split pre-tokenizer, on normalized text):
# one such character with the combining marks after it, as split_words(split_unspaced=True) does.
UNSPACED_REGEX = "[" + "".join(f"\\x{{{lo:X}}}-\\x{{{hi:X}}}" for lo, hi in _UNSPACED) + "]\\p{M}*"
# Characters Python calls whitespace that XLM-R's normalizer deletes or keeps instead of turning
# into a space: sentencepiece and transformers separate no words there, so neither does split_words.
_NOT_SEPARATORS = frozenset("\x0b\x1c\x1d\x1e\x1f\x85")

# xtune.json's record of the split (prepare/qa.py writes it): value -> split_unspaced
INFO_KEY = "qa_word_split"
WORD_SPLITS = {"whitespace": False, "character": True}
LEGACY_WORD_SPLIT = "character"  # directories written before the key existed were split per character


def word_split_of(info: dict, where: str) -> str:
    """The word split of a QA data directory's xtune.json `info` (`where`: its path, for errors)."""
    value = info.get(INFO_KEY, LEGACY_WORD_SPLIT)
    if value not in WORD_SPLITS:
        raise InputError(f"{where}: {INFO_KEY} {value!r} is not one of {', '.join(WORD_SPLITS)}; rerun xtune-preprocess")
    return value


def split_unspaced_of(info: dict, where: str) -> bool:
    """split_words's split_unspaced for a QA data directory's xtune.json `info`."""
    return WORD_SPLITS[word_split_of(info, where)]


@lru_cache(maxsize=65536)
def _char_class(ch: str) -> Tuple[bool, bool, bool]:
    """(separates words, is a combining mark, is of a script without spaces)."""
    cp = ord(ch)
    # every range starts at or above U+0E00: Latin, Cyrillic, Arabic... answer without the scan
    unspaced = cp >= _UNSPACED[0][0] and any(lo <= cp <= hi for lo, hi in _UNSPACED)
    return ch.isspace() and ch not in _NOT_SEPARATORS, unicodedata.category(ch).startswith("M"), unspaced


@lru_cache(maxsize=65536)
def _nfkc(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch)


@dataclass(frozen=True)
class Word:
    text: str
    start: int  # character offsets in the context, end exclusive
    end: int


def split_words(text: str, split_unspaced: bool = False) -> List[Word]:
    """Whitespace-separated words with their character offsets (the authors' split).

    split_unspaced: in scripts without spaces (see _UNSPACED) every character is a word
    of its own, together with the combining marks after it (Thai vowel and tone marks),
    and a run of other characters glued to it ("2020年" -> "2020", "年") is a word too.
    This gives augmentation (code-switch, subword sampling) and R1's unchanged-word masks
    units smaller than a whole sentence; the price is a sentencepiece boundary before
    every such character, which the pretrained model never saw there.
    """
    if split_unspaced:
        return _split_normalized(text)
    words: List[Word] = []
    start = None
    for i, ch in enumerate(text + " "):
        space = _char_class(ch)[0]
        if start is not None and space:
            words.append(Word(text[start:i], start, i))
            start = None
        elif start is None and not space:
            start = i
    return words


def _split_normalized(text: str) -> List[Word]:
    """split_unspaced's words, cut where the exported tokenizer cuts (UNSPACED_REGEX on the NFKC
    form: full-width Latin is Latin, half-width katakana is katakana, Thai SARA AM is a mark and a
    vowel) and mapped back to the characters of `text`. A word that is part of one character's
    normal form (SARA AM's vowel, a character of ㍿) is that part, with the character's offsets."""
    norm: List[str] = []
    owner: List[int] = []  # owner[j]: the character of `text` whose normal form holds norm[j]
    for i, ch in enumerate(text):
        n = _nfkc(ch)
        norm.extend(n)
        owner.extend([i] * len(n))
    words: List[Word] = []
    start, single = None, False  # current word's start in norm; whether it is one unspaced character
    for j, ch in enumerate(norm + [" "]):
        space, mark, unspaced = _char_class(ch)
        if start is not None and single and mark:
            continue  # a combining mark stays on its base character
        if start is not None and (space or single or unspaced):
            s, e = owner[start], owner[j - 1] + 1
            whole = (start == 0 or owner[start - 1] != s) and (j == len(norm) or owner[j] != e - 1)
            words.append(Word(text[s:e] if whole else "".join(norm[start:j]), s, e))
            start = None
        if start is None and not space:
            start, single = j, unspaced
    return words


def pieces_per_word(words: Sequence[Word], pieces_of: Callable[[str], List[str]]) -> List[List[str]]:
    """pieces_of(word.text) for every word, e.g. SubwordSampler.best."""
    return [list(pieces_of(w.text)) for w in words]


def piece_spans(word: Word, pieces: Sequence) -> List[Span]:
    """Character span of each piece of a word.

    Exact spans when the pieces, without the boundary marker, spell the word (also after
    NFKC normalization, which sentencepiece applies); otherwise (a code-switched word,
    ids instead of strings, a word that is part of one character's normal form) every piece gets
    the span of the whole word.
    """
    if all(isinstance(p, str) for p in pieces) and len(word.text) == word.end - word.start:
        surfaces = [p.replace(WORD_BOUNDARY, "") for p in pieces]
        spelled = "".join(surfaces)
        # owner[k]: the word character that produced character k of the spelled word
        owner = list(range(len(word.text)))
        if spelled != word.text:
            normalized = [unicodedata.normalize("NFKC", ch) for ch in word.text]
            owner = [c for c, n in enumerate(normalized) for _ in n] if "".join(normalized) == spelled else None
        if owner is not None:
            spans, k = [], 0
            for s in surfaces:
                if s:
                    spans.append((word.start + owner[k], word.start + owner[k + len(s) - 1] + 1))
                else:  # a lone marker: an empty span where the next character starts
                    at = word.start + owner[k] if k < len(owner) else word.end
                    spans.append((at, at))
                k += len(s)
            return spans
    return [(word.start, word.end)] * len(pieces)


@dataclass
class Window:
    example_index: int
    tokens: list  # pieces (or ids) as given, with the special tokens
    context_start_in_tokens: int  # index in tokens of the first context token
    doc_start: int  # index of that token among all context pieces of the example
    token_to_char: List[Optional[Span]]  # None for specials and question tokens
    token_to_word: List[Optional[int]]  # context word index, None elsewhere
    token_piece_in_word: List[Optional[int]]  # which piece of its word, None elsewhere
    max_context: List[bool]  # this window is the token's best (max context) window
    start_position: Optional[int] = None  # answer tokens; 0 when outside, None without answer
    end_position: Optional[int] = None


def window_spans(n_pieces: int, max_tokens: int, doc_stride: int) -> List[Tuple[int, int]]:
    """(start, length) over the context pieces, as BERT's SQuAD code slides them."""
    spans, start = [], 0
    while True:
        length = min(n_pieces - start, max_tokens)
        spans.append((start, length))
        if start + length >= n_pieces:
            return spans
        start += min(length, doc_stride)


def is_max_context(spans: Sequence[Tuple[int, int]], span_index: int, position: int) -> bool:
    """Whether spans[span_index] gives context piece `position` the most context on both
    sides (min of left and right context, ties broken by window length) among all spans."""
    best, best_score = None, None
    for i, (start, length) in enumerate(spans):
        end = start + length - 1
        if not start <= position <= end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best_score is None or score > best_score:
            best, best_score = i, score
    return best == span_index


def make_windows(
    example_index: int,
    question_pieces: Sequence,
    words: Sequence[Word],
    word_pieces: Sequence[Sequence],
    answer: Optional[Span] = None,
    max_length: int = 384,
    doc_stride: int = 128,
    max_query_length: int = 64,
    bos="<s>",
    eos="</s>",
) -> List[Window]:
    """Windows over one example's context; word_pieces[i] are the pieces of words[i].

    answer: character span [start, end) of the training answer; each window marks the
    answer's first and last token, or position 0 when the answer is not wholly inside.
    """
    if len(words) != len(word_pieces):
        raise ValueError(f"{len(words)} words but pieces for {len(word_pieces)}")
    if doc_stride <= 0:
        raise ValueError(f"doc_stride must be positive, got {doc_stride}")
    question = list(question_pieces)[:max_query_length]
    max_tokens = max_length - len(question) - N_SPECIALS
    if max_tokens <= 0:
        raise ValueError(f"max_length {max_length} leaves no room for context after {len(question)} question pieces")
    flat = [(w, k, piece, span) for w, (word, pieces) in enumerate(zip(words, word_pieces))
            for k, (piece, span) in enumerate(zip(pieces, piece_spans(word, pieces)))]
    first = last = None
    if answer is not None:  # first and last piece overlapping the answer characters
        hits = [i for i, (_, _, _, (s, e)) in enumerate(flat) if s < answer[1] and e > answer[0]]
        first, last = (hits[0], hits[-1]) if hits else (None, None)
    spans = window_spans(len(flat), max_tokens, doc_stride)
    ctx0 = len(question) + 3
    out = []
    for n, (start, length) in enumerate(spans):
        part = flat[start : start + length]
        pre, post = [None] * ctx0, [None]
        window = Window(
            example_index=example_index,
            tokens=[bos] + question + [eos, eos] + [p for _, _, p, _ in part] + [eos],
            context_start_in_tokens=ctx0,
            doc_start=start,
            token_to_char=pre + [s for _, _, _, s in part] + post,
            token_to_word=pre + [w for w, _, _, _ in part] + post,
            token_piece_in_word=pre + [k for _, k, _, _ in part] + post,
            max_context=[False] * ctx0 + [is_max_context(spans, n, start + i) for i in range(length)] + [False],
        )
        if answer is not None:
            inside = first is not None and start <= first and last < start + length
            window.start_position = first - start + ctx0 if inside else 0
            window.end_position = last - start + ctx0 if inside else 0
        out.append(window)
    return out
