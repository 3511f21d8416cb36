"""Cross-lingual retrieval: the metric on a hand-made case, identical pairs retrieve perfectly,
and the CLI works on a pretrained directory and a fine-tuned checkpoint alike."""

import json

import numpy as np
import pytest

from conftest import fairseq_train, train_args
from xtune_fairseq.core.metrics.retrieval import masked_mean, top1_accuracy


def test_top1_on_a_hand_made_case():
    src = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    tgt = np.array([[0.9, 0.1], [1.0, 0.2], [0.1, 1.0]])
    # src->tgt: 0->0 ok, 1->2 wrong, 2->? cos([1,1],[.9,.1])=.78, ([1,.2])=.83, ([.1,1])=.77 -> 1 wrong
    # tgt->src: 0->0 ok, 1->0 wrong, 2->1 wrong
    fwd, bwd = top1_accuracy(src, tgt)
    assert fwd == pytest.approx(100 / 3) and bwd == pytest.approx(100 / 3)


def test_masked_mean():
    h = np.arange(12, dtype=float).reshape(1, 4, 3)
    assert np.allclose(masked_mean(h, np.array([[True, True, False, False]])), [[1.5, 2.5, 3.5]])


def test_cli_on_pretrained_and_checkpoint(tiny, tmp_path):
    from xtune_fairseq.cli.retrieval import main

    lines = [l.split("\t") for l in open(tiny["translations"]).read().splitlines()[1:]]
    src = {}
    for row in open(tiny["train"]).read().splitlines()[1:]:
        ex_id, _, text, _ = row.split("\t")
        src[ex_id] = text
    pairs = [(src[i], t) for i, lang, t in lines if lang == "de"][:40]
    tsv = tmp_path / "en-de.tsv"
    tsv.write_text("".join(f"{a}\t{b}\n" for a, b in pairs))
    same = tmp_path / "en-en.tsv"
    same.write_text("".join(f"{a}\t{a}\n" for a, _ in pairs))
    save = tmp_path / "ck"
    fairseq_train(train_args(tiny, save, "--max-update", "2", "--disable-validation"))
    out = tmp_path / "r.json"
    assert main(["--model", f"pre={tiny['model']}", "--model", f"ft={save / 'checkpoint_last.pt'}",
                 "--parallel", str(tsv), "--parallel", str(same), "--layer", "2", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    for name in ("pre", "ft"):
        assert r[name]["en-en"] == {"src->tgt": 100.0, "tgt->src": 100.0, "pairs": 40}
        assert 0 <= r[name]["en-de"]["src->tgt"] <= 100


def test_bad_parallel_file(tmp_path):
    from xtune_fairseq.evaluation import read_parallel_tsv
    from xtune_fairseq.core.errors import InputError

    bad = tmp_path / "en-de.tsv"
    bad.write_text("a\tb\nonly one field\n")
    with pytest.raises(InputError, match=r"en-de\.tsv:2: expected 'source<TAB>target'"):
        read_parallel_tsv(str(bad))


def test_translation_links_and_pca():
    from xtune_fairseq.core.metrics.projection import pca_2d, translation_links

    links = translation_links(["valid-en-1", "valid-de-1", "valid-en-2", "valid-fr-1", "valid-de-2"],
                              ["en", "de", "en", "fr", "de"])
    assert sorted(links) == [(0, 1), (0, 3), (2, 4)]
    x = np.random.default_rng(0).standard_normal((20, 5))
    p = pca_2d(x)
    assert p.shape == (20, 2) and np.allclose(p.mean(0), 0, atol=1e-9)
    assert np.var(p[:, 0]) >= np.var(p[:, 1])


@pytest.mark.parametrize("method", ["tsne", "pca"])
def test_representation_plot_written(tiny, tmp_path, method):
    import os

    from xtune_fairseq.cli.represent import main

    out = tmp_path / f"{method}.png"
    assert main(["--model", tiny["model"], "--data", tiny["bin"], "--split", "valid", "--per-lang", "20",
                 "--method", method, "--out", str(out)]) == 0
    assert os.path.getsize(out) > 10000
