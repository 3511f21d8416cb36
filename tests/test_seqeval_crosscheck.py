"""Our entity-level scores (xtune_fairseq.core.metrics.entities, what xtune-evaluate, the training
log's f1_XX and the result tables use) against seqeval's default mode, a port of CoNLL's conlleval:
the same entities, micro precision, recall and F1 on seeded random tag sequences (well- and
ill-formed) and on hand-picked edge cases. Skipped where seqeval is not installed."""

import random
import warnings

import pytest

from xtune_fairseq.core.metrics.entities import entities, entity_f1

seqeval = pytest.importorskip("seqeval.metrics", reason="seqeval not installed (pip install seqeval==1.2.2)")
from seqeval.metrics.sequence_labeling import get_entities  # noqa: E402

TYPES = ("PER", "LOC", "MISC-X")  # a type with a hyphen: split at the first one only


def theirs(golds, preds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UndefinedMetricWarning where nothing is predicted / gold
        return {name: 100.0 * getattr(seqeval, f"{name}_score")(golds, preds)
                for name in ("precision", "recall", "f1")}


def assert_same(golds, preds):
    ours = entity_f1(golds, preds)
    for name, value in theirs(golds, preds).items():
        assert ours[name] == pytest.approx(value, abs=1e-9), (name, golds, preds)
    for seq in list(golds) + list(preds):
        assert entities(seq) == set(get_entities(list(seq))), seq


def random_tags(rng, n, prefixes):
    return [rng.choice(["O", "O"] + [f"{p}-{t}" for p in prefixes for t in TYPES]) for _ in range(n)]


@pytest.mark.parametrize("prefixes", ["BI", "BIES"], ids=["BIO", "IOBES"])
def test_random_sequences(prefixes):
    rng = random.Random(13)
    for _ in range(300):
        n_sent = rng.randint(1, 6)
        golds = [random_tags(rng, rng.randint(0, 9), prefixes) for _ in range(n_sent)]
        # predictions: the gold with some tags changed, or independent ones (few matches)
        preds = [[t if rng.random() < 0.7 else random_tags(rng, 1, prefixes)[0] for t in g] for g in golds]
        if rng.random() < 0.3:
            preds = [random_tags(rng, len(g), prefixes) for g in golds]
        assert_same(golds, preds)


EDGE = {
    "I- without B-": ([["O", "I-PER", "I-PER", "O"]], [["O", "B-PER", "I-PER", "O"]]),
    "I- at the start": ([["I-PER", "O"]], [["I-PER", "O"]]),
    "B-X then I-Y": ([["B-PER", "I-LOC", "I-LOC"]], [["B-PER", "B-LOC", "I-LOC"]]),
    "single-token entities": ([["B-PER", "B-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-LOC"]]),
    "entity at the end": ([["O", "O", "B-LOC"]], [["O", "O", "I-LOC"]]),
    "all O": ([["O", "O"], ["O"]], [["O", "O"], ["O"]]),
    "nothing predicted": ([["B-PER", "O"]], [["O", "O"]]),
    "nothing gold": ([["O", "O"]], [["B-PER", "O"]]),
    "empty sentences": ([[], ["B-PER"]], [[], ["B-PER"]]),
    "IOB1-like starts": ([["I-PER", "I-PER", "B-PER", "O", "I-LOC"]], [["I-PER", "B-PER", "B-PER", "O", "B-LOC"]]),
    "type change inside I-": ([["I-PER", "I-LOC", "I-PER"]], [["B-PER", "I-PER", "I-PER"]]),
    "same span, other type": ([["B-PER", "I-PER"]], [["B-LOC", "I-LOC"]]),
    "hyphenated type": ([["B-MISC-X", "I-MISC-X", "I-MISC"]], [["B-MISC-X", "I-MISC-X", "B-MISC"]]),
    "sentence boundary": ([["B-PER"], ["I-PER"]], [["B-PER"], ["B-PER"]]),
    "IOBES": ([["B-PER", "E-PER", "S-LOC", "O", "E-PER"]], [["B-PER", "I-PER", "S-LOC", "O", "S-PER"]]),
}


@pytest.mark.parametrize("name", list(EDGE))
def test_edge_cases(name):
    assert_same(*EDGE[name])


def test_no_sentences_at_all_is_the_one_difference():
    """seqeval refuses an empty list; ours scores it 0 (a language with no test sentences)."""
    assert entity_f1([], []) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "gold": 0, "predicted": 0, "correct": 0}
    with pytest.raises(TypeError):
        theirs([], [])
    assert_same([[]], [[]])


def test_the_comparison_is_sharp():
    """A one-boundary difference changes both: the check above is not vacuous."""
    golds, preds = [["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]]
    assert entity_f1(golds, preds)["f1"] == 0.0 == theirs(golds, preds)["f1"]
    assert entity_f1(golds, golds)["f1"] == 100.0 == theirs(golds, golds)["f1"]
