"""Exact match and token F1: SQuAD v1.1's official definition, and MLQA's per-language one.

XTREME scores XQuAD and TyDiQA-GoldP with the SQuAD v1.1 script, MLQA with its own.
"""

import re
import string
import sys
import unicodedata
from collections import Counter
from typing import Dict, Iterable, List

from xtune_fairseq.core.errors import InputError

_SQUAD_PUNCT = frozenset(string.punctuation)
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")

# MLQA: every character whose Unicode category starts with P, and ASCII punctuation
# (which adds symbols such as $ + < = > ^ ` | ~).
_MLQA_PUNCT = frozenset(chr(c) for c in range(sys.maxunicode + 1)
                        if unicodedata.category(chr(c)).startswith("P")) | _SQUAD_PUNCT
_MLQA_ARTICLES = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "de": r"\b(der|die|das|des|dem|den|ein|eine|einer|eines|einem|einen)\b",
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    # the official pattern removes the prefix "ال" wherever it occurs, also inside words
    "ar": r"ال",
    "hi": None,
    "zh": None,
}
_MLQA_ARTICLES = {k: (re.compile(v) if v else None) for k, v in _MLQA_ARTICLES.items()}
_MLQA_HAN = re.compile(r"[\u4e00-\u9fa5]")  # MLQA's range for "a Chinese character"
MLQA_LANGUAGES = tuple(sorted(_MLQA_ARTICLES))


def normalize_answer(text: str) -> str:
    """SQuAD v1.1: lower case, no punctuation, no English articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _SQUAD_PUNCT)
    return " ".join(_SQUAD_ARTICLES.sub(" ", text).split())


def mixed_segmentation(text: str) -> List[str]:
    """MLQA's Chinese tokens: each Chinese character alone, other runs split at whitespace."""
    tokens: List[str] = []
    run = ""
    for ch in text:
        if _MLQA_HAN.match(ch) or ch in _MLQA_PUNCT:
            tokens += run.split() + [ch]
            run = ""
        else:
            run += ch
    return tokens + run.split()


def normalize_answer_mlqa(text: str, lang: str) -> str:
    """MLQA: lower case, no Unicode punctuation, the language's articles removed, then
    tokens (mixed segmentation for zh, whitespace otherwise) joined by single spaces."""
    if lang not in _MLQA_ARTICLES:
        raise InputError(f"MLQA evaluation has no rules for language {lang!r}; expected one of {MLQA_LANGUAGES}")
    text = "".join(ch for ch in text.lower() if ch not in _MLQA_PUNCT)
    articles = _MLQA_ARTICLES[lang]
    if articles is not None:
        text = articles.sub(" ", text)
    tokens = mixed_segmentation(text) if lang == "zh" else text.split()
    return " ".join(t for t in tokens if t.strip())


def _tokens(text: str, lang: str, mlqa: bool) -> List[str]:
    return (normalize_answer_mlqa(text, lang) if mlqa else normalize_answer(text)).split()


def exact_match(prediction: str, truth: str, lang: str = "en", mlqa: bool = False) -> float:
    return float(_tokens(prediction, lang, mlqa) == _tokens(truth, lang, mlqa))


def f1(prediction: str, truth: str, lang: str = "en", mlqa: bool = False) -> float:
    """Harmonic mean of token precision and recall, tokens counted with multiplicity."""
    pred, gold = _tokens(prediction, lang, mlqa), _tokens(truth, lang, mlqa)
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def evaluate(predictions: Dict[str, str], examples: Iterable, lang: str = "en", mlqa: bool = False) -> Dict[str, float]:
    """Mean over questions of the best EM / F1 against any gold answer, x100.

    A question without a prediction scores 0; predictions for other ids are ignored.
    """
    em_sum = f1_sum = 0.0
    n = 0
    for ex in examples:
        truths = [text for text, _ in ex.answers]
        if not truths:
            raise InputError(f"question {ex.id!r} has no gold answer to evaluate against")
        n += 1
        if ex.id in predictions:
            pred = predictions[ex.id]
            em_sum += max(exact_match(pred, t, lang, mlqa) for t in truths)
            f1_sum += max(f1(pred, t, lang, mlqa) for t in truths)
    if n == 0:
        raise InputError("no questions to evaluate")
    return {"exact_match": 100.0 * em_sum / n, "f1": 100.0 * f1_sum / n, "n": n}
