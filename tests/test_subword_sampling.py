"""Subword sampling: lossless, reproducible from a seed, and distributed as p(seg)^alpha."""

import collections
import math

import numpy as np
import pytest
import sentencepiece as spm

from xtune_fairseq.core.augment.subword_sampling import SubwordSampler


def sentences(path, n=40):
    with open(path, encoding="utf-8") as f:
        return [line.split("\t")[2] for line in list(f)[1 : n + 1]]


def test_sampled_segmentations_decode_to_the_original(spm_model):
    s = SubwordSampler(spm_model["model"], alpha=0.3, ratio=1.0)
    sp = spm.SentencePieceProcessor(model_file=spm_model["model"])
    rng = np.random.default_rng(0)
    changed = 0
    for text in sentences(spm_model["train"]):
        pieces, resampled = s.segment(text.split(), rng)
        flat = [p for w in pieces for p in w]
        assert sp.decode_pieces(flat) == sp.decode(sp.encode(text))
        changed += sum(resampled)
    assert changed > 0


def test_same_seed_same_views_other_seed_other_views(spm_model):
    s = SubwordSampler(spm_model["model"], alpha=0.3, ratio=0.5)
    words = " ".join(sentences(spm_model["train"], 10)).split()
    a = s.segment(words, np.random.default_rng([1, 2, 3]))[0]
    b = s.segment(words, np.random.default_rng([1, 2, 3]))[0]
    c = s.segment(words, np.random.default_rng([1, 3, 3]))[0]
    assert a == b and a != c


def test_ratio_zero_is_the_deterministic_segmentation(spm_model):
    s = SubwordSampler(spm_model["model"], ratio=0.0)
    sp = spm.SentencePieceProcessor(model_file=spm_model["model"])
    text = sentences(spm_model["train"], 1)[0]
    pieces, resampled = s.segment(text.split(), np.random.default_rng(0))
    assert [p for w in pieces for p in w] == sp.encode(text, out_type=str)
    assert not any(resampled)


def enumerate_segmentations(surface, scores):
    if not surface:
        return [()]
    out = []
    for j in range(1, len(surface) + 1):
        if surface[:j] in scores:
            out += [(surface[:j],) + rest for rest in enumerate_segmentations(surface[j:], scores)]
    return out


def test_distribution_matches_brute_force_enumeration(spm_model):
    alpha = 0.5
    s = SubwordSampler(spm_model["model"], alpha=alpha, ratio=1.0)
    sp = s.sp
    scores = {sp.id_to_piece(i): sp.get_score(i) for i in range(3, sp.get_piece_size())}
    words = sorted({w for t in sentences(spm_model["train"], 40) for w in t.split()}, key=len)
    candidates = [(w, enumerate_segmentations("".join(s.best(w)), scores)) for w in words]
    word, segs = next((w, g) for w, g in candidates if 3 <= len(g) <= 500)
    w = np.array([math.exp(alpha * sum(scores[p] for p in seg)) for seg in segs])
    expected = dict(zip(segs, w / w.sum()))
    rng = np.random.default_rng(0)
    n = 4000
    counts = collections.Counter(tuple(s.sample_word(word, rng)) for _ in range(n))
    assert set(counts) <= set(expected)
    for seg, p in expected.items():
        if p > 0.02:
            assert abs(counts[seg] / n - p) < 4 * math.sqrt(p * (1 - p) / n) + 0.005, (seg, counts[seg] / n, p)


def test_nbest_sampling_stays_within_the_n_best(spm_model):
    s = SubwordSampler(spm_model["model"], alpha=0.3, nbest=2, ratio=1.0)
    word = max(sentences(spm_model["train"], 5)[0].split(), key=len)
    allowed = {tuple(c) for c in s.sp.nbest_encode(word, nbest_size=2, out_type=str)}
    rng = np.random.default_rng(0)
    assert {tuple(s.sample_word(word, rng)) for _ in range(50)} <= allowed


@pytest.mark.parametrize("kw", [dict(ratio=1.5), dict(nbest=0), dict(nbest=-2)])
def test_bad_parameters(spm_model, kw):
    with pytest.raises(ValueError):
        SubwordSampler(spm_model["model"], **kw)
