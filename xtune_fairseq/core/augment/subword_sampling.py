"""Subword sampling (paper 3.2.1): resegment words with the unigram language model.

Sampling is done here, not by sentencepiece's own sampler, because that one draws from a
thread-local generator seeded once per process: views could then not be reproduced from
(seed, epoch, index). Forward-filtering backward-sampling over a word's lattice draws a
segmentation with probability proportional to prod p(piece)^alpha, which is what
sentencepiece's `nbest_size=-1, alpha=a` sampling does.
"""

import math
from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from xtune_fairseq.core.augment.registry import Augmentation, View, register_augmentation
from xtune_fairseq.core.xlmr_dir import load_sentencepiece

WORD_BOUNDARY = "\u2581"


class SubwordSampler:
    """Segments whitespace-separated words, sampling a word's pieces with probability `ratio`.

    alpha: smoothing exponent on the unigram probabilities (0.3 in the paper).
    nbest: -1 samples from all segmentations; n > 0 from the n best only.
    """

    def __init__(self, sp_model_path: str, alpha: float = 0.3, nbest: int = -1, ratio: float = 0.3):
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"subword sampling ratio must be in [0, 1], got {ratio}")
        if nbest == 0 or nbest < -1:
            raise ValueError(f"subword sampling nbest must be -1 or positive, got {nbest}")
        self.sp = load_sentencepiece(sp_model_path)
        self.alpha, self.nbest, self.ratio = alpha, nbest, ratio
        self._scores: Dict[str, float] = {}
        for i in range(self.sp.get_piece_size()):
            if self.sp.is_unknown(i) or self.sp.is_control(i):
                continue
            self._scores[self.sp.id_to_piece(i)] = self.sp.get_score(i)
        self._max_len = max(len(p) for p in self._scores)
        self._lattice = lru_cache(maxsize=65536)(self._build_lattice)
        self._best = lru_cache(maxsize=262144)(self._best_pieces)

    def _best_pieces(self, word: str) -> Tuple[str, ...]:
        return tuple(self.sp.encode(word, out_type=str))

    def best(self, word: str) -> List[str]:
        """The deterministic (Viterbi) segmentation of one word."""
        return list(self._best(word))

    def _edges(self, surface: str) -> List[List[Tuple[int, str, float]]]:
        """Edges ending at each position: [(start, piece, score)]."""
        n, max_len, scores = len(surface), self._max_len, self._scores
        ends: List[List[Tuple[int, str, float]]] = [[] for _ in range(n + 1)]
        for i in range(n):
            for j in range(i + 1, min(n, i + max_len) + 1):
                piece = surface[i:j]
                score = scores.get(piece)
                if score is not None:
                    ends[j].append((i, piece, score))
        return ends

    def _build_lattice(self, surface: str):
        """A word's lattice in flat arrays (a few hundred bytes, where lists of edge tuples took kilobytes
        and a full cache of them hundreds of MB per process): the start of every edge a segmentation can
        use, grouped by end position (those of end j at offsets[j-1]:offsets[j], in increasing start),
        their cumulative distributions (filled by _fill_cdf on first use) and the forward log-weights.
        None if a character has no piece."""
        ends = self._edges(surface)
        forward = [-math.inf] * (len(surface) + 1)
        forward[0] = 0.0
        for j in range(1, len(surface) + 1):
            terms = [forward[i] + self.alpha * s for i, _, s in ends[j] if forward[i] > -math.inf]
            if terms:
                m = max(terms)
                forward[j] = m + math.log(sum(math.exp(t - m) for t in terms))
        if forward[-1] == -math.inf:
            return None
        starts, offsets = array("i"), array("i", [0])
        for edges in ends[1:]:
            starts.extend(i for i, _, _ in edges if forward[i] > -math.inf)
            offsets.append(len(starts))
        return starts, offsets, array("d", [0.0]) * len(starts), array("d", forward)

    def _fill_cdf(self, lattice, surface: str, j: int) -> None:
        """The edges ending at j: what Generator.choice(len(edges), p=w / w.sum()) searches, made by the
        very numpy operations it applies (cumsum, then division by the last value, which makes that 1.0:
        the mark of a filled position). bisect_right on it with one rng.random() picks the edge choice
        picks and leaves the generator in the same state, at a fraction of the cost (choice validates
        p and builds arrays on every call; this runs once per word and position)."""
        starts, offsets, cdf, forward = lattice
        lo, hi = offsets[j - 1], offsets[j]
        logw = np.array([forward[i] + self.alpha * self._scores[surface[i:j]] for i in starts[lo:hi]])
        w = np.exp(logw - logw.max())
        filled = (w / w.sum()).cumsum()
        filled /= filled[-1]
        cdf[lo:hi] = array("d", filled.tolist())

    def sample_word(self, word: str, rng: np.random.Generator) -> List[str]:
        """One sampled segmentation of `word`; concatenated it equals the best one's surface."""
        best = self._best(word)
        surface = "".join(best)
        if self.nbest > 0:
            return self._sample_nbest(word, best, surface, rng)
        lattice = self._lattice(surface)
        if lattice is None:  # a character outside the vocabulary: keep the unk segmentation
            return list(best)
        starts, offsets, cdf, _ = lattice
        pieces: List[str] = []
        j = len(surface)
        while j > 0:  # backward sampling: the last piece given the forward weights, then the one before
            hi = offsets[j]
            if cdf[hi - 1] != 1.0:
                self._fill_cdf(lattice, surface, j)
            i = starts[bisect_right(cdf, rng.random(), offsets[j - 1], hi)]
            pieces.append(surface[i:j])
            j = i
        return pieces[::-1]

    def _sample_nbest(self, word, best, surface, rng) -> List[str]:
        cands = [tuple(c) for c in self.sp.nbest_encode(word, nbest_size=self.nbest, out_type=str)]
        cands = [c for c in cands if "".join(c) == surface and all(p in self._scores for p in c)]
        if not cands:
            return list(best)
        logw = np.array([self.alpha * sum(self._scores[p] for p in c) for c in cands])
        w = np.exp(logw - logw.max())
        return list(cands[rng.choice(len(cands), p=w / w.sum())])

    def segment(self, words: Sequence[str], rng: np.random.Generator = None) -> Tuple[List[List[str]], List[bool]]:
        """Pieces per word; a word is resampled with probability `ratio` (mask says which)."""
        drawn = self.resample(words, rng)
        return ([self.best(w) if d is None else d for w, d in zip(words, drawn)], [d is not None for d in drawn])

    def resample(self, words: Sequence[str], rng: np.random.Generator = None) -> List[Optional[List[str]]]:
        """Per word, its sampled pieces where they differ from the best segmentation, else None (what
        segment draws, without building the pieces of the words that keep their best segmentation)."""
        if rng is None or self.ratio <= 0:
            return [None] * len(words)
        out: List[Optional[List[str]]] = []
        draw, ratio = rng.random, self.ratio
        for word in words:
            pieces = None
            if draw() < ratio:
                pieces = self.sample_word(word, rng)
                if tuple(pieces) == self._best(word):
                    pieces = None
            out.append(pieces)
        return out

    def lattice_pieces(self, word: str) -> set:
        """Every piece that a segmentation of `word` can use (what vocabulary trimming keeps)."""
        best = self._best(word)
        surface = "".join(best)
        found = set(best)
        if self._lattice(surface) is not None:
            found.update(piece for edges in self._edges(surface) for _, piece, _ in edges)
        return found


@dataclass
class SubwordSamplingFlags:
    subword_alpha: float = field(default=0.3, metadata={"help": "subword sampling smoothing alpha"})
    subword_nbest: int = field(default=-1, metadata={"help": "subword sampling n-best size (-1: all)"})
    subword_ratio: float = field(default=0.3, metadata={"help": "probability that a word is resampled"})


@register_augmentation("ss")
class SubwordSampling(Augmentation):
    """Words re-segmented by the task's SubwordSampler (built from these flags, shared by every kind
    for the words' best segmentations)."""

    description = "subword sampling: words re-segmented by sentencepiece sampling (SS)"
    flags = SubwordSamplingFlags
    storable = True
    strength_flag = "subword_ratio"
    settings = ("subword_alpha", "subword_nbest", "subword_ratio")

    def sentence_view(self, maker, example, orig, rng):
        return View(maker.encode_texts(example.texts, rng))

    def words_view(self, maker, example, orig, rng):
        return maker.encode_words(example.words, rng, example.id)

    def qa_view(self, maker, example, orig, rng):
        return maker.encode(example, sample_rng=rng)
