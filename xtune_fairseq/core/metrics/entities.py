"""Entity-level precision, recall and F1 for BIO / IOB2 tags (and IOBES), as CoNLL's conlleval
counts them: an entity is correct when its type and both boundaries match. An I-X that follows O or
another type opens a new entity (conlleval's lenient reading of ill-formed sequences).

seqeval's default mode (a port of conlleval) gives the same entities and scores
(tests/test_seqeval_crosscheck.py), but only ships an sdist whose build needs setuptools_scm at
install time; these lines are cheaper than that dependency here. One difference: no sentences at
all score 0 here, where seqeval raises a TypeError.

Tags that are not BIO / IOBES (POS tags such as NOUN, SCONJ) have no entity reading; XTREME's
evaluate.py still scores udpos with seqeval's f1_score over them, and `tag_f1` / `tag_chunk_counts`
give exactly that number: seqeval's default-mode chunking of arbitrary tags (below)."""

from typing import Dict, List, Sequence, Set, Tuple

Entity = Tuple[str, int, int]  # type, first word, last word (inclusive)


def _split(tag: str) -> Tuple[str, str]:
    if tag == "O" or not tag:
        return "O", ""
    prefix, sep, kind = tag.partition("-")
    if not sep or prefix not in ("B", "I", "E", "S"):
        raise ValueError(f"tag {tag!r} is not O, B-TYPE, I-TYPE, E-TYPE or S-TYPE")
    return prefix, kind


def _ends(prev: str, prefix: str, prev_kind: str, kind: str) -> bool:
    """conlleval's endOfChunk: an entity ended before this tag (the prefix '.' is seqeval's: like O)."""
    return (prev in ("E", "S") or (prev in ("B", "I") and prefix in ("B", "S", "O"))
            or (prev not in ("O", ".") and prev_kind != kind))


def _starts(prev: str, prefix: str, prev_kind: str, kind: str) -> bool:
    """conlleval's startOfChunk: an entity starts at this tag."""
    return (prefix in ("B", "S") or (prev in ("E", "S", "O") and prefix in ("E", "I"))
            or (prefix not in ("O", ".") and prev_kind != kind))


def _chunks(tags: Sequence[str], split) -> Set[Entity]:
    found, prev, prev_kind, start = set(), "O", "", 0
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = split(tag)
        if _ends(prev, prefix, prev_kind, kind):
            found.add((prev_kind, start, i - 1))
        if _starts(prev, prefix, prev_kind, kind):
            start = i
        prev, prev_kind = prefix, kind
    return found


def entities(tags: Sequence[str]) -> Set[Entity]:
    return _chunks(tags, _split)


def is_bio(labels: Sequence[str]) -> bool:
    """True for label sets such as O, B-PER, I-PER: `auto` scores them with entity F1, and training logs
    their dev F1 (checkpoint selection by avg_f1). Wider: bio_form (IOBES too), which `f1` reads as entities."""
    labels = list(labels)
    return "O" in labels and all(l == "O" or l[:2] in ("B-", "I-") for l in labels) and len(labels) > 1


def tagging_metric(metric: str, labels: Sequence[str]) -> str:
    """The score of a tagging run: `auto` is entity F1 for BIO tag sets, token accuracy otherwise."""
    if metric != "auto":
        return metric
    return "f1" if is_bio(labels) else "accuracy"


def entity_counts(gold: Sequence[str], pred: Sequence[str]) -> Tuple[int, int, int]:
    """(correct, predicted, gold) entities of one sentence: the summable parts of entity F1."""
    ge, pe = entities(gold), entities(pred)
    return len(ge & pe), len(pe), len(ge)


def f1_from_counts(correct: float, predicted: float, gold: float) -> float:
    """Micro F1 in percent: 2PR / (P + R) = 2 correct / (predicted + gold)."""
    return 200.0 * correct / (predicted + gold) if predicted + gold else 0.0


def entity_f1(golds: Sequence[Sequence[str]], preds: Sequence[Sequence[str]]) -> Dict[str, float]:
    """Micro-averaged over all entities of all sentences; scores in percent."""
    if len(golds) != len(preds):
        raise ValueError("golds and preds must hold the same number of sentences")
    n_gold = n_pred = n_hit = 0
    for g, p in zip(golds, preds):
        if len(g) != len(p):
            raise ValueError(f"sentence with {len(g)} gold tags but {len(p)} predicted")
        hit, n_p, n_g = entity_counts(g, p)
        n_gold, n_pred, n_hit = n_gold + n_g, n_pred + n_p, n_hit + hit
    precision = 100.0 * n_hit / n_pred if n_pred else 0.0
    recall = 100.0 * n_hit / n_gold if n_gold else 0.0
    return {"precision": precision, "recall": recall, "f1": f1_from_counts(n_hit, n_pred, n_gold), "gold": n_gold,
            "predicted": n_pred, "correct": n_hit}


def token_accuracy(golds: Sequence[Sequence[str]], preds: Sequence[Sequence[str]]) -> float:
    pairs: List[Tuple[str, str]] = [(g, p) for gs, ps in zip(golds, preds) for g, p in zip(gs, ps)]
    return 100.0 * sum(g == p for g, p in pairs) / len(pairs) if pairs else 0.0


# seqeval 1.2.2's default (non-strict) mode over arbitrary tags, as XTREME's evaluate.py scores udpos.
# A tag's first character is its prefix and the rest after its first '-' (else after the first
# character) its type, '_' when empty: SCONJ is an S- singleton of type CONJ (as CCONJ's), INTJ an I-
# tag of type NTJ, NOUN prefix N type OUN, X and O type '_', B-MISC-X type MISC-X. The tags O and '.'
# never open a chunk and their type never closes one. seqeval joins a corpus's sentences with an O
# after each, so a chunk can depend on the sentence before (e.g. X after a sentence's end opens none,
# the next chunk end then reaches back to the last start); the counts below follow that exactly. An
# empty tag (a word without prediction) is O, as the submission files write it.

def _seqeval_split(tag: str) -> Tuple[str, str]:
    tag = tag or "O"
    return tag[0], tag[1:].split("-", 1)[-1] or "_"


def tag_chunks(sentences: Sequence[Sequence[str]]) -> Set[Entity]:
    """seqeval's get_entities over a corpus: (type, first, last) with offsets into the sentences
    joined by one O after each; a set, as seqeval counts them."""
    return _chunks([t for s in sentences for t in list(s) + ["O"]], _seqeval_split)


def tag_chunk_counts(golds: Sequence[Sequence[str]], preds: Sequence[Sequence[str]]) -> List[Tuple[int, int, int]]:
    """(correct, predicted, gold) chunks per sentence of one corpus (a language's test set, in order),
    each chunk counted in the sentence of its last word: they sum to seqeval's corpus counts."""
    if len(golds) != len(preds):
        raise ValueError("golds and preds must hold the same number of sentences")
    sentence_of: List[int] = []
    for k, (g, p) in enumerate(zip(golds, preds)):
        if len(g) != len(p):
            raise ValueError(f"sentence with {len(g)} gold tags but {len(p)} predicted")
        sentence_of += [k] * (len(g) + 1)
    gold, pred = tag_chunks(golds), tag_chunks(preds)
    counts = [[0, 0, 0] for _ in golds]
    for chunk in pred:
        counts[sentence_of[chunk[2]]][0] += chunk in gold
        counts[sentence_of[chunk[2]]][1] += 1
    for chunk in gold:
        counts[sentence_of[chunk[2]]][2] += 1
    return [(c, p, g) for c, p, g in counts]


def tag_f1(golds: Sequence[Sequence[str]], preds: Sequence[Sequence[str]]) -> Dict[str, float]:
    """seqeval's micro precision, recall and F1 (in percent) over arbitrary tags: XTREME's udpos score."""
    hit, n_pred, n_gold = (sum(c) for c in zip((0, 0, 0), *tag_chunk_counts(golds, preds)))
    precision = 100.0 * hit / n_pred if n_pred else 0.0
    recall = 100.0 * hit / n_gold if n_gold else 0.0
    return {"precision": precision, "recall": recall, "f1": f1_from_counts(hit, n_pred, n_gold), "gold": n_gold,
            "predicted": n_pred, "correct": hit}


def bio_form(labels: Sequence[str]) -> bool:
    """True when every tag is O, B-X, I-X, E-X or S-X: `--metric f1` reads them as entities (entity_f1),
    other tags (POS) with seqeval's chunks (tag_f1). Narrower: is_bio (O, B-, I- only)."""
    try:
        for label in labels:
            _split(label)
    except ValueError:
        return False
    return True
