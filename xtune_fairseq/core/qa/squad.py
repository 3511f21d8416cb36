"""SQuAD v1.1-format JSON (also XQuAD, MLQA, TyDiQA-GoldP) in, predictions JSON out."""

import json
from dataclasses import dataclass
from typing import Dict, List, Tuple

from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_open
from xtune_fairseq.core.text import open_text


@dataclass(frozen=True)
class QAExample:
    id: str
    lang: str
    question: str
    context: str
    answers: Tuple[Tuple[str, int], ...]  # (text, character offset in context); several in evaluation sets

    @property
    def texts(self):  # the words code-switching can reach
        return (self.question, self.context)


def _field(path: str, where: str, obj, key: str, kind):
    if not isinstance(obj, dict):
        raise InputError(f"{path}: {where}: expected a JSON object, got {type(obj).__name__}")
    if key not in obj:
        raise InputError(f"{path}: {where}: missing key {key!r}")
    value = obj[key]
    # bool is an int subclass, but `"answer_start": true` is a mistake
    if not isinstance(value, kind) or isinstance(value, bool):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise InputError(f"{path}: {where}.{key}: expected {names}, got {json.dumps(value, ensure_ascii=False)[:80]}")
    return value


def read_squad(path: str, lang: str, require_answers: bool = False, blanked: bool = False) -> List[QAExample]:
    """All questions of one file, in file order; `lang` is the file's language.

    require_answers: every question needs at least one answer (training files).
    blanked: XTREME's test files, whose answers its download replaces by {"answer_start": 0, "text": ""}:
    those are read as no answer.
    """
    with open_text(path, "UTF-8 SQuAD v1.1 JSON {\"data\": [...]}") as f:  # drops a BOM, which json.loads refuses
        raw = f.read()
    if not raw.strip():
        raise InputError(f"{path}: empty file; expected SQuAD JSON {{\"data\": [...]}}")
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}") from None
    out: List[QAExample] = []
    seen: Dict[str, str] = {}
    for i, article in enumerate(_field(path, "top level", doc, "data", list)):
        for j, para in enumerate(_field(path, f"data[{i}]", article, "paragraphs", list)):
            where_p = f"data[{i}].paragraphs[{j}]"
            context = _field(path, where_p, para, "context", str)
            for k, qa in enumerate(_field(path, where_p, para, "qas", list)):
                where = f"{where_p}.qas[{k}]"
                qid = _field(path, where, qa, "id", (str, int))
                qid = str(qid)
                if qid in seen:
                    raise InputError(f"{path}: {where}: duplicate question id {qid!r} (first at {seen[qid]})")
                seen[qid] = where
                question = _field(path, where, qa, "question", str)
                answers = []
                for m, ans in enumerate(_field(path, where, qa, "answers", list)):
                    where_a = f"{where}.answers[{m}]"
                    if blanked and ans == {"answer_start": 0, "text": ""}:
                        continue
                    text = _field(path, where_a, ans, "text", str)
                    start = _field(path, where_a, ans, "answer_start", int)
                    if not text:
                        raise InputError(f"{path}: {where_a}.text: empty answer")
                    found = context[start : start + len(text)] if start >= 0 else ""
                    if found != text:
                        raise InputError(
                            f"{path}: {where_a}: answer text {text!r} is not context[{start}:{start + len(text)}] "
                            f"= {found!r}; expected answer_start to be the answer's character offset"
                        )
                    answers.append((text, start))
                if require_answers and not answers:
                    raise InputError(f"{path}: {where}.answers: training questions need at least one answer")
                out.append(QAExample(qid, lang, question, context, tuple(answers)))
    if not out:
        raise InputError(f"{path}: no questions; expected data[].paragraphs[].qas[]")
    return out


def write_predictions(path: str, predictions: Dict[str, str]) -> None:
    """{question id: answer text}, the input of the official evaluation scripts."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(predictions, f, ensure_ascii=False, indent=1)
        f.write("\n")
