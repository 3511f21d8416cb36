"""Subword sampling (paper 3.2.1): resegment words with the unigram language model.

Sampling is done here, not by sentencepiece's own sampler, because that one draws from a
thread-local generator seeded once per process: views could then not be reproduced from
(seed, epoch, index). Forward-filtering backward-sampling over a word's lattice draws a
segmentation with probability proportional to prod p(piece)^alpha, which is what
sentencepiece's `nbest_size=-1, alpha=a` sampling does.
"""

import math
from functools import lru_cache
from typing import Dict, List, Sequence, Tuple

import numpy as np

from xtune_fairseq.xlmr_dir import load_sentencepiece

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

    def _build_lattice(self, surface: str):
        """Edges ending at each position: [(start, piece, score)], or None if a character has no piece."""
        ends: List[List[Tuple[int, str, float]]] = [[] for _ in range(len(surface) + 1)]
        for i in range(len(surface)):
            for j in range(i + 1, min(len(surface), i + self._max_len) + 1):
                piece = surface[i:j]
                score = self._scores.get(piece)
                if score is not None:
                    ends[j].append((i, piece, score))
        forward = [-math.inf] * (len(surface) + 1)
        forward[0] = 0.0
        for j in range(1, len(surface) + 1):
            terms = [forward[i] + self.alpha * s for i, _, s in ends[j] if forward[i] > -math.inf]
            if terms:
                m = max(terms)
                forward[j] = m + math.log(sum(math.exp(t - m) for t in terms))
        if forward[-1] == -math.inf:
            return None
        return ends, forward

    def sample_word(self, word: str, rng: np.random.Generator) -> List[str]:
        """One sampled segmentation of `word`; concatenated it equals the best one's surface."""
        best = self._best(word)
        surface = "".join(best)
        if self.nbest > 0:
            cands = [tuple(c) for c in self.sp.nbest_encode(word, nbest_size=self.nbest, out_type=str)]
            cands = [c for c in cands if "".join(c) == surface and all(p in self._scores for p in c)]
            if not cands:
                return list(best)
            logw = np.array([self.alpha * sum(self._scores[p] for p in c) for c in cands])
            w = np.exp(logw - logw.max())
            return list(cands[rng.choice(len(cands), p=w / w.sum())])
        lattice = self._lattice(surface)
        if lattice is None:  # a character outside the vocabulary: keep the unk segmentation
            return list(best)
        ends, forward = lattice
        pieces: List[str] = []
        j = len(surface)
        while j > 0:
            cand = [(i, p, s) for i, p, s in ends[j] if forward[i] > -math.inf]
            logw = np.array([forward[i] + self.alpha * s for i, _, s in cand])
            w = np.exp(logw - logw.max())
            i, piece, _ = cand[rng.choice(len(cand), p=w / w.sum())]
            pieces.append(piece)
            j = i
        return pieces[::-1]

    def segment(self, words: Sequence[str], rng: np.random.Generator = None) -> Tuple[List[List[str]], List[bool]]:
        """Pieces per word; a word is resampled with probability `ratio` (mask says which)."""
        out, resampled = [], []
        for word in words:
            if rng is not None and self.ratio > 0 and rng.random() < self.ratio:
                pieces = self.sample_word(word, rng)
                out.append(pieces)
                resampled.append(tuple(pieces) != self._best(word))
            else:
                out.append(self.best(word))
                resampled.append(False)
        return out, resampled

    def lattice_pieces(self, word: str) -> set:
        """Every piece that a segmentation of `word` can use (what vocabulary trimming keeps)."""
        best = self._best(word)
        lattice = self._lattice("".join(best))
        found = set(best)
        if lattice is not None:
            found.update(piece for edges in lattice[0] for _, piece, _ in edges)
        return found
