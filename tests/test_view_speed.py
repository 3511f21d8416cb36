"""The fast view path draws exactly the views of the straightforward one it replaced: for fixed seeds,
the same segmentations, switches and token ids, and the generator left in the same state (so later
draws of a row agree too). The reference functions below are the pre-optimisation code, verbatim in
logic: rng.choice over lattice edge lists, Dictionary-style lookups of every piece."""

import math

import numpy as np
import pytest

from xtune_fairseq.core.augment import views as views_module
from xtune_fairseq.core.augment.code_switch import _AFFIX, CodeSwitcher
from xtune_fairseq.core.augment.subword_sampling import SubwordSampler
from xtune_fairseq.core.augment.views import ViewMaker
from xtune_fairseq.core.data.readers import Example
from xtune_fairseq.core.text import TextEncoder


def reference_sample_word(s, word, rng):
    surface = "".join(s.best(word))
    ends = s._edges(surface)
    forward = [-math.inf] * (len(surface) + 1)
    forward[0] = 0.0
    for j in range(1, len(surface) + 1):
        terms = [forward[i] + s.alpha * sc for i, _, sc in ends[j] if forward[i] > -math.inf]
        if terms:
            m = max(terms)
            forward[j] = m + math.log(sum(math.exp(t - m) for t in terms))
    if forward[-1] == -math.inf:
        return s.best(word)
    pieces, j = [], len(surface)
    while j > 0:
        cand = [(i, p, sc) for i, p, sc in ends[j] if forward[i] > -math.inf]
        logw = np.array([forward[i] + s.alpha * sc for i, _, sc in cand])
        w = np.exp(logw - logw.max())
        i, piece, _ = cand[rng.choice(len(cand), p=w / w.sum())]
        pieces.append(piece)
        j = i
    return pieces[::-1]


def reference_segment(s, words, rng):
    out = []
    for word in words:
        if rng is not None and s.ratio > 0 and rng.random() < s.ratio:
            out.append(reference_sample_word(s, word, rng))
        else:
            out.append(s.best(word))
    return out


def reference_switch(sw, words, rng):
    out = []
    for word in words:
        new = word
        if rng.random() < sw.ratio:
            lang = sw.langs[rng.integers(len(sw.langs))]
            pre, core, post = _AFFIX.match(word).groups()
            cands = sw.dictionaries[lang].get(core.lower(), [])
            if sw.single_word_only:
                cands = [c for c in cands if len(c.split()) == 1]
            if core and cands:
                new = pre + cands[rng.integers(len(cands))] + post
        out.append(new)
    return out


def reference_view(maker, table, texts, rng):
    if maker.kind == "cs":
        texts = [" ".join(reference_switch(maker.switcher, t.split(), rng)) for t in texts]
        rng = None
    ids = [[table.get(p, 3) for w in reference_segment(maker.sampler, t.split(), rng) for p in w] for t in texts]
    return maker.encoder.build(ids)


@pytest.fixture(scope="module")
def parts(spm_model):
    import sentencepiece as spm

    from xtune_fairseq.core.augment.code_switch import load_muse_dictionaries

    sp = spm.SentencePieceProcessor(model_file=spm_model["model"])
    table = {sp.id_to_piece(i): i + 1 for i in range(3, sp.get_piece_size())}
    with open(spm_model["train"], encoding="utf-8") as f:
        texts = [line.split("\t")[2] for line in list(f)[1:121]]
    dicts = load_muse_dictionaries([spm_model["dict_de"], spm_model["dict_fr"]])
    return {"table": table, "texts": texts, "dicts": dicts, "model": spm_model["model"]}


def state(rng):
    return rng.bit_generator.state


@pytest.mark.parametrize("alpha,ratio", [(0.3, 0.3), (0.1, 1.0), (1.0, 1.0)])
def test_sampled_segmentations_and_generator_state_unchanged(parts, alpha, ratio):
    s = SubwordSampler(parts["model"], alpha=alpha, ratio=ratio)
    words = " ".join(parts["texts"]).split() + ["Ba,", "(te)", "x\u00e9\u00e9q", ""]
    changed = 0
    for seed in range(30):
        fast, ref = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 1])
        drawn, flags = s.segment(words, fast)
        expected = reference_segment(s, words, ref)
        assert drawn == expected and state(fast) == state(ref)
        assert flags == [d != s.best(w) for w, d in zip(words, drawn)]
        changed += sum(flags)
    assert changed > 0  # sampling really happened


@pytest.mark.parametrize("kind", ["ss", "cs"])
def test_views_unchanged_for_fixed_seeds(parts, kind, monkeypatch):
    monkeypatch.setattr(views_module, "WORD_CACHE_SIZE", 50)  # the memo is cleared often: views must not care
    table = parts["table"]
    sampler = SubwordSampler(parts["model"], alpha=0.3, ratio=0.5)
    switcher = CodeSwitcher(parts["dicts"], ratio=0.5)
    maker = ViewMaker(kind, TextEncoder(lambda p: table.get(p, 3), 0, 2, 64), sampler, switcher)
    pairs = list(zip(parts["texts"][::2], parts["texts"][1::2]))
    for epoch in (1, 2):
        for row, texts in enumerate(pairs):
            fast, ref = np.random.default_rng([1, epoch, row, 1]), np.random.default_rng([1, epoch, row, 1])
            view = maker(Example(str(row), "en", texts, "x"), None, fast)
            assert view.ids == reference_view(maker, table, texts, ref), (epoch, row)
            assert state(fast) == state(ref)
    assert len(maker._word_ids) <= 50


def test_tagging_switch_keeps_single_word_entries_only(parts):
    dicts = {"de": {"good": ["sehr gut", "prima"]}}
    sw = CodeSwitcher(dicts, ratio=1.0, single_word_only=True)
    for seed in range(20):
        fast, ref = np.random.default_rng(seed), np.random.default_rng(seed)
        assert sw(["Good!", "good"], fast)[0] == reference_switch(sw, ["Good!", "good"], ref) == ["prima!", "prima"]
        assert state(fast) == state(ref)


def test_piece_ids_memo_matches_the_index(parts):
    table = parts["table"]
    calls = []
    enc = TextEncoder(lambda p: calls.append(p) or table.get(p, 3), 0, 2, 64)
    pieces = ["\u2581ba", "zz-unknown", "\u2581ba", "te"]
    assert enc.ids(pieces) == enc.ids(pieces) == [table.get(p, 3) for p in pieces]
    assert sorted(calls) == sorted(set(pieces))  # each piece looked up once
