"""`--metric f1` on tags that are not BIO (POS): seqeval's default-mode f1_score over the raw tags,
the number google-research/xtreme's evaluate.py reports for udpos (a tag's first character read as
its prefix: SCONJ an S- singleton of type CONJ, INTJ an I- tag, NOUN NOUN one chunk). Checked against
seqeval 1.2.2 itself on random UPOS corpora, its odd corners ('O', '.', several '-', a chunk that
reaches back into the sentence before), the per-sentence counts of the significance test, the
pipeline's checkpoint-selection score, and end to end: `xtune-evaluate --metric f1` on a tiny udpos
checkpoint against seqeval over the submission files XTREME's evaluate.py reads."""

import json
import os
import random
import types
import warnings

import pytest

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.metrics.entities import (bio_form, entity_f1, f1_from_counts, tag_chunk_counts, tag_chunks,
                                                  tag_f1)
from xtune_fairseq.evaluation.scores import TAG_F1, example_stats, score
from xtune_fairseq.pipeline.config import PipelineConfig, resolve_kind_defaults

seqeval = pytest.importorskip("seqeval.metrics", reason="seqeval not installed (pip install seqeval==1.2.2)")
from seqeval.metrics.sequence_labeling import get_entities  # noqa: E402

UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X")
ODD = ("O", ".", "B-PER", "I-PER", "E-X", "S", "I", "A-B-C", "S-", "-", "_", "X-Y-Z")  # seqeval's corners


def theirs(golds, preds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "NOUN seems not to be NE tag", UndefinedMetricWarning
        return {name: 100.0 * getattr(seqeval, f"{name}_score")(golds, preds) for name in ("precision", "recall", "f1")}


def assert_same(golds, preds):
    ours = tag_f1(golds, preds)
    for name, value in theirs(golds, preds).items():
        assert ours[name] == pytest.approx(value, abs=1e-9), (name, golds, preds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert tag_chunks(golds) == set(get_entities([list(s) for s in golds])), golds
    counts = tag_chunk_counts(golds, preds)
    assert len(counts) == len(golds) and all(min(c) >= 0 and c[0] <= min(c[1:]) for c in counts)
    assert [sum(c) for c in zip(*counts)] == [ours["correct"], ours["predicted"], ours["gold"]]


def random_corpus(rng, tags):
    golds = [[rng.choice(tags) for _ in range(rng.randint(0, 9))] for _ in range(rng.randint(1, 7))]
    preds = [[t if rng.random() < 0.6 else rng.choice(tags) for t in g] for g in golds]
    return golds, preds


@pytest.mark.parametrize("tags", [UPOS, UPOS + ODD], ids=["UPOS", "UPOS+odd"])
def test_random_corpora_equal_seqeval(tags):
    for seed in range(400):
        assert_same(*random_corpus(random.Random(seed), tags))


EDGE = {
    "NOUN NOUN is one chunk": ([["NOUN", "NOUN", "VERB"]], [["NOUN", "VERB", "VERB"]]),
    "SCONJ closes, CCONJ shares its type": ([["SCONJ", "CCONJ", "NOUN"]], [["CCONJ", "SCONJ", "NOUN"]]),
    "INTJ INTJ": ([["INTJ", "INTJ", "X"]], [["INTJ", "ADJ", "X"]]),
    "X after a sentence reaches back": ([["NOUN"], ["X", "NOUN"]], [["NOUN"], ["X", "VERB"]]),
    "X first in the corpus": ([["X", "NOUN"]], [["X", "X"]]),
    "'.' and 'O' open nothing": ([["NOUN", ".", "NOUN", "O", "NOUN"]], [["NOUN", "NOUN", "NOUN", "O", "O"]]),
    "several '-'": ([["A-B-C", "A-B-C", "X-Y-Z"]], [["B-B-C", "I-B-C", "Z-Y-Z"]]),
    "BIO tags among POS tags": ([["B-PER", "I-PER", "NOUN"]], [["B-PER", "NOUN", "NOUN"]]),
    "empty sentences": ([[], ["NOUN"], []], [[], ["NOUN"], []]),
    "no chunk predicted": ([["O", "."]], [["O", "O"]]),
}


@pytest.mark.parametrize("name", list(EDGE))
def test_edge_cases(name):
    assert_same(*EDGE[name])


def test_a_chunk_over_two_sentences_counts_in_the_sentence_of_its_last_word():
    """seqeval joins sentences with O: X opening a sentence opens no chunk, the next chunk end reaches
    back to the sentence before's last start; counted where it ends, the counts still sum exactly."""
    golds, preds = [["NOUN"], ["X", "NOUN"]], [["NOUN"], ["X", "VERB"]]
    assert ("_", 0, 2) in tag_chunks(golds)
    assert tag_chunk_counts(golds, preds) == [(1, 1, 1), (1, 2, 2)]
    assert tag_f1(golds, preds)["f1"] == pytest.approx(theirs(golds, preds)["f1"], abs=1e-12)


def test_empty_tag_is_o_and_no_sentence_is_zero():
    """A word without prediction (cut off by --max-positions) is O, as the submission files write it;
    seqeval itself fails on '' and on no sentences at all."""
    golds, preds = [["NOUN", "VERB", "X"]], [["NOUN", "", ""]]
    assert tag_f1(golds, preds) == tag_f1(golds, [["NOUN", "O", "O"]])
    assert_same(golds, [["NOUN", "O", "O"]])
    assert tag_f1([], [])["f1"] == 0.0
    with pytest.raises(ValueError, match="2 gold tags but 1 predicted"):
        tag_f1([["NOUN", "X"]], [["NOUN"]])


def test_which_tag_sets_keep_entity_f1():
    assert bio_form(["O", "B-PER", "I-PER"]) and bio_form(["O", "B-LOC", "E-LOC", "S-LOC", "I-MISC-X"])
    assert not bio_form(UPOS) and not bio_form(["O", "B-PER", "NOUN"]) and not bio_form(["O", "Bx-PER"])


def task_of(labels):
    return types.SimpleNamespace(kind="tagging", label_names=list(labels))


def interleaved(seed, tags, langs=("de", "en", "fr")):
    """(langs, preds, golds) of sentences in several languages, interleaved, each language's in order."""
    rng = random.Random(seed)
    queues = {lang: list(zip(*random_corpus(rng, tags))) for lang in langs}
    flat = []
    while any(queues.values()):
        lang = rng.choice([l for l in langs if queues[l]])
        flat.append((lang, *queues[lang].pop(0)))
    return [x[0] for x in flat], [x[2] for x in flat], [x[1] for x in flat]


@pytest.mark.parametrize("seed", range(20))
def test_scores_and_per_example_counts_of_xtune_evaluate(seed):
    """score(): seqeval per language, under its own name; example_stats(): per-sentence counts whose
    sums are each language's score; `auto` on POS stays token accuracy (the authors' choice)."""
    langs, preds, golds = interleaved(seed, UPOS)
    task = task_of(UPOS)
    scores, name = score(task, langs, preds, golds, "f1")
    assert name == TAG_F1 == "F1 (seqeval over the tags, XTREME's udpos score)"
    stats = example_stats(task, langs, preds, golds, "f1")
    assert stats["kind"] == "f1" and stats["langs"] == langs and len(stats["stats"]) == len(langs)
    assert sorted(scores) == sorted(set(langs))
    for lang, value in scores.items():
        sents = [(g, p) for l, g, p in zip(langs, golds, preds) if l == lang]
        assert value == pytest.approx(theirs([g for g, _ in sents], [p for _, p in sents])["f1"], abs=1e-9)
        sums = [sum(s[k] for l, s in zip(langs, stats["stats"]) if l == lang) for k in range(3)]
        assert f1_from_counts(*sums) == value
    assert score(task, langs, preds, golds, "auto")[1] == "token accuracy"
    assert example_stats(task, langs, preds, golds, "auto")["kind"] == "ratio"


def test_bio_scoring_is_unchanged():
    rng = random.Random(5)
    tags = ("O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC")
    golds = [[rng.choice(tags) for _ in range(rng.randint(1, 8))] for _ in range(40)]
    preds = [[t if rng.random() < 0.7 else rng.choice(tags) for t in g] for g in golds]
    langs = ["en"] * 20 + ["de"] * 20
    scores, name = score(task_of(tags), langs, preds, golds, "f1")
    assert name == "entity F1"
    assert scores["en"] == entity_f1(golds[:20], preds[:20])["f1"]
    assert scores["de"] == entity_f1(golds[20:], preds[20:])["f1"]


def test_checkpoint_selection_follows_what_the_training_log_has():
    """The training log has dev F1 for BIO tag sets and QA only: POS with --metric f1 selects by dev
    token accuracy (and is then scored with seqeval's F1); avg_f1 asked for on POS is one line, before training."""
    def resolved(metric, kind, labels, best="auto"):
        a = PipelineConfig(model_dir="m", data="d", out="o", metric=metric, best_metric=best)
        resolve_kind_defaults(a, kind, labels)
        return a.best_metric

    assert resolved("f1", "tagging", UPOS) == resolved("auto", "tagging", UPOS) == "avg_acc"
    assert resolved("f1", "tagging", ["O", "B-PER", "I-PER"]) == resolved("auto", "qa", []) == "avg_f1"
    with pytest.raises(InputError, match=r"^--best-metric avg_f1: dev F1 is logged for QA and BIO tag sets"):
        resolved("f1", "tagging", UPOS, best="avg_f1")


# end to end: a tiny udpos checkpoint, xtune-evaluate --metric f1 against seqeval over the submission files

E2E_LANGS = ("de", "en", "vi")


def write_udpos(root, labelled):
    """XTREME's udpos layout (word TAB tag, a blank line after each sentence; test words only unless labelled)."""
    rng = random.Random(7)
    os.makedirs(os.path.join(root, "udpos"), exist_ok=True)
    for split, langs in (("train", ("en",)), ("dev", E2E_LANGS), ("test", E2E_LANGS)):
        for lang in langs:
            sentences = [[(f"{lang}{rng.choice('abcdefgh')}{rng.choice('ijklmno')}", rng.choice(UPOS))
                          for _ in range(rng.randint(2, 7))] for _ in range(24 if split == "train" else 10)]
            if split == "train":
                sentences[0] = [(f"{lang}a{i}", t) for i, t in enumerate(UPOS)]  # every tag in train
            with open(os.path.join(root, "udpos", f"{split}-{lang}.tsv"), "w", encoding="utf-8") as f:
                for s in sentences:
                    words_only = split == "test" and not labelled
                    f.write("".join(f"{w}\n" if words_only else f"{w}\t{t}\n" for w, t in s) + "\n")
    return root


def read_tag(path, column):
    """evaluate.py's read_tag: one sentence per blank-line-separated block (here: the tag column)."""
    blocks = open(path, encoding="utf-8").read().strip("\n").split("\n\n")
    return [[line.split("\t")[column] for line in block.split("\n")] for block in blocks]


def test_xtune_evaluate_metric_f1_is_xtremes_udpos_score(tmp_path):
    from conftest import fairseq_train, train_args
    from test_end_to_end import run_cli
    from xtune_fairseq.prepare import build_tiny_model, preprocess_xtreme

    labelled, download = write_udpos(str(tmp_path / "labelled"), True), write_udpos(str(tmp_path / "download"), False)
    text = [" ".join(s.split("\t")[0] for s in block.split("\n"))
            for name in os.listdir(os.path.join(labelled, "udpos"))
            for block in open(os.path.join(labelled, "udpos", name), encoding="utf-8").read().strip().split("\n\n")]
    (tmp_path / "corpus.txt").write_text("\n".join(text * 2) + "\n", encoding="utf-8")
    model = build_tiny_model(str(tmp_path / "model"), str(tmp_path / "corpus.txt"), vocab_size=120)
    bins = {name: preprocess_xtreme("udpos", root, model, str(tmp_path / f"bin-{name}"), notes=[])
            for name, root in (("labelled", labelled), ("download", download))}
    fairseq_train(train_args({"bin": bins["labelled"], "model": model}, str(tmp_path / "ckpt"), "--max-update", "3",
                             task="xtune_sequence_labeling"))
    checkpoint = f"pos={tmp_path / 'ckpt' / 'checkpoint_last.pt'}"
    sub = run_cli("xtune_fairseq.cli.evaluate", "--checkpoint", checkpoint, "--data", bins["download"],
                  "--submission-dir", tmp_path / "sub")
    assert sub.returncode == 0, sub.stdout[-2000:] + sub.stderr[-2000:]
    results = {}
    for metric in ("f1", "auto"):
        ev = run_cli("xtune_fairseq.cli.evaluate", "--checkpoint", checkpoint, "--data", bins["labelled"],
                     "--metric", metric, "--json", tmp_path / f"{metric}.json")
        assert ev.returncode == 0, ev.stdout[-2000:] + ev.stderr[-2000:]
        results[metric] = json.loads((tmp_path / f"{metric}.json").read_text())["pos"]
    assert results["f1"]["metric"] == TAG_F1 and results["auto"]["metric"] == "token accuracy"
    f1s, accs = [], []
    for lang in E2E_LANGS:
        gold = read_tag(os.path.join(labelled, "udpos", f"test-{lang}.tsv"), 1)
        pred = read_tag(os.path.join(tmp_path, "sub", "pos", "udpos", f"test-{lang}.tsv"), 0)
        f1s.append(theirs(gold, pred)["f1"])
        pairs = [(g, p) for gs, ps in zip(gold, pred) for g, p in zip(gs, ps)]
        accs.append(100.0 * sum(g == p for g, p in pairs) / len(pairs))
        assert results["f1"]["per_language"][lang] == pytest.approx(f1s[-1], abs=1e-9)
        assert results["auto"]["per_language"][lang] == pytest.approx(accs[-1], abs=1e-9)
    assert 0 < min(f1s) and f1s != accs  # a trained-for-3-updates model: the two scores differ
