"""Readers of XTREME's files (where they are and how they are written: data/xtreme.py) into the
examples xtune-preprocess writes: headerless sentence-pair TSVs, tagging files with WikiANN's
language prefixes, and translate-train files matched to the English training data the way the
authors' code matches them (by sentence text, or by question id). What is left out is said in
`notes`. No fairseq import."""

import dataclasses
import random
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

from xtune_fairseq.core.data import xtreme
from xtune_fairseq.core.data.readers import Example, LanguageCodes, check_label
from xtune_fairseq.core.data.tagged import TaggedSentence, read_tagged
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.qa.squad import QAExample, read_squad
from xtune_fairseq.core.text import is_blank, open_text

LangPaths = Sequence[Tuple[str, str]]


def _lines(path: str) -> List[Tuple[int, str]]:
    """(line number, text) of the non-blank lines; csv.writer's \\r\\n endings and a BOM removed."""
    with open_text(path, "UTF-8 text as XTREME writes it", newline="\n") as f:
        text = f.read()
    return [(i, line.rstrip("\r")) for i, line in enumerate(text.split("\n"), 1) if line.strip()]


def _fields(path: str) -> List[Tuple[int, List[str]]]:
    numbered = _lines(path)
    return list(zip((i for i, _ in numbered), xtreme.split_fields([line for _, line in numbered])))


def read_pair_files(files: LangPaths, split: str, labels: Optional[Sequence[str]] = None,
                    languages: Optional[LanguageCodes] = None, notes: Optional[list] = None) -> List[Example]:
    """XTREME's XNLI / PAWS-X files (xtreme.PAIR_COLUMNS, no header). A row with an empty sentence is
    left out of training and dev data (PAWS-X has some), kept in test data (XTREME's evaluate.py and the
    authors score every row); labels: when given, a label outside it is an error."""
    languages, allowed, out = languages or LanguageCodes(), set(labels or ()), []
    for lang, path in files:
        lang, kept, empty = languages.check(lang, path), len(out), 0
        for k, (lineno, row) in enumerate(_fields(path)):
            where = f"{path}:{lineno}"
            if len(row) != len(xtreme.PAIR_COLUMNS):
                raise InputError(f"{where}: expected {len(xtreme.PAIR_COLUMNS)} tab-separated columns "
                                 f"{xtreme.PAIR_COLUMNS} as XTREME's {split}-LANG.tsv, got {len(row)}")
            first, second, label = (f.strip() for f in row)
            if k == 0 and label.casefold() == "label":  # a header would make 'label' a class of its own
                raise InputError(f"{where}: a header row {row} is not expected ('label' is not one of the task's "
                                 "labels): XTREME's files have none; expected 'sentence1<TAB>sentence2<TAB>label' "
                                 "rows from the first line on")
            if is_blank(first) or is_blank(second):
                empty += 1
                if split != "test":
                    continue
            if not label:
                raise InputError(f"{where}: empty label; expected 'sentence1<TAB>sentence2<TAB>label'")
            label = check_label(xtreme.LABEL_ALIASES.get(label, label), where)
            if labels is not None and label not in allowed:
                raise InputError(f"{where}: unknown label {label!r}; expected one of {sorted(allowed)}")
            out.append(Example(f"{split}-{lang}-{lineno}", lang, (first, second), label))
        if empty and notes is not None:
            notes.append(f"{path}: {'kept' if split == 'test' else 'left out'} {empty} row(s) with an empty sentence")
        if len(out) == kept:
            raise InputError(f"{path}: no sentence pairs; expected 'sentence1<TAB>sentence2<TAB>label' lines")
    return out


def read_unlabelled_pairs(files: LangPaths, split: str, languages: Optional[LanguageCodes] = None,
                          notes: Optional[list] = None) -> List[Example]:
    """XTREME's test files without their label column ('sentence1<TAB>sentence2'): every row kept, an
    empty sentence too (a submission has a line per row), each with label None (predicted, never scored)."""
    languages, out = languages or LanguageCodes(), []
    for lang, path in files:
        lang, empty = languages.check(lang, path), 0
        rows = _fields(path)
        for lineno, row in rows:
            if len(row) != 2:
                raise InputError(f"{path}:{lineno}: expected 'sentence1<TAB>sentence2' as in XTREME's test files "
                                 f"without labels (its first line has 2 columns), got {len(row)} columns")
            empty += any(is_blank(f) for f in row)
            out.append(Example(f"{split}-{lang}-{lineno}", lang, tuple(f.strip() for f in row), None))
        if not rows:
            raise InputError(f"{path}: no sentence pairs; expected 'sentence1<TAB>sentence2' lines")
        if empty and notes is not None:
            notes.append(f"{path}: kept {empty} row(s) with an empty sentence (a submission has a line per row)")
    return out


def read_unlabelled_words(files: LangPaths, split: str, languages: Optional[LanguageCodes] = None
                          ) -> List[TaggedSentence]:
    """XTREME's udpos / panx test files without tags (a word a line, a blank line between sentences):
    sentences with tags None (predicted, never scored)."""
    languages, out = languages or LanguageCodes(), []
    for lang, path in files:
        lang, sentences, words = languages.check(lang, path), [], []
        for lineno, line in _lines_with_blanks(path):
            if line.strip() and not line.startswith("-DOCSTART-"):
                if "\t" in line or " " in line.strip():
                    raise InputError(f"{path}:{lineno}: expected one word a line (XTREME's test files without "
                                     f"tags, as its first line), got {line!r}")
                words.append(line.strip())
            elif words:
                sentences.append(tuple(words))
                words = []
        sentences += [tuple(words)] if words else []
        if not sentences:
            raise InputError(f"{path}: no sentences; expected a word a line, a blank line between sentences")
        out += [TaggedSentence(f"{split}-{lang}-{i}", lang, w, None)
                for i, w in enumerate(xtreme.strip_language_prefix(sentences))]
    return out


def _lines_with_blanks(path: str) -> List[Tuple[int, str]]:
    with open_text(path, "UTF-8 text as XTREME writes it", newline="\n") as f:
        return [(i, line.rstrip("\r")) for i, line in enumerate(f.read().split("\n"), 1)]


def read_qa_test(files: LangPaths, blanked: Set[str], languages: LanguageCodes) -> List[QAExample]:
    """SQuAD-format dev / test files; those in `blanked` (XTREME's, answers removed) read without answers.
    An id may repeat across languages (XQuAD's do), not within one."""
    out: List[QAExample] = []
    for lang, path in files:
        out += read_squad(path, languages.check(lang, path), blanked=path in blanked)
    return out


def _sentence_translations(path: str) -> Dict[str, str]:
    """{English sentence: its translation} of an XTREME translate-train TSV, each sentence on its own
    as the authors' run_cls.py keys them (the first translation of a repeated sentence)."""
    found: Dict[str, str] = {}
    for lineno, row in _fields(path):
        if len(row) != len(xtreme.TRANSLATION_COLUMNS):
            raise InputError(f"{path}:{lineno}: expected {len(xtreme.TRANSLATION_COLUMNS)} tab-separated columns "
                             f"{xtreme.TRANSLATION_COLUMNS} (XTREME's translations with their English pair), "
                             f"got {len(row)}")
        for source, translated in ((row[0], row[2]), (row[1], row[3])):
            if not is_blank(source) and not is_blank(translated):
                found.setdefault(" ".join(source.split()), translated.strip())
    return found


def iter_pair_translations(files: LangPaths, train: Sequence[Example], languages: LanguageCodes,
                           notes: Optional[list] = None) -> Iterator[Example]:
    """The translations of the training pairs, file (language) by file, each with its pair's id: a
    stream, since XNLI's are 5.5M rows. The authors' MT needs every training pair translated, so a
    pair without any translation is an error (raised once every file is read)."""
    covered = bytearray(len(train))
    for lang, path in files:
        lang, found, n = languages.check(lang, path), _sentence_translations(path), 0
        for i, ex in enumerate(train):
            texts = tuple(found.get(" ".join(t.split())) for t in ex.texts)
            if all(texts):
                covered[i] = 1
                n += 1
                yield Example(ex.id, lang, texts)
        if n < len(train) and notes is not None:
            notes.append(f"{path}: translates {n} of {len(train)} training pairs")
    missing = [ex for ex, c in zip(train, covered) if not c]
    if missing:
        raise InputError(f"{files[0][1]}: {len(missing)} of {len(train)} training pairs have no translation in "
                         f"any file (e.g. {missing[0].id}: {missing[0].texts[0][:60]!r}); expected their English "
                         "sentences in the first two columns")


def read_tagged_files(files: LangPaths, split: str, labels: Optional[Sequence[str]] = None,
                      languages: Optional[LanguageCodes] = None) -> List[TaggedSentence]:
    """XTREME's udpos / panx files ('word<TAB>tag'), WikiANN's 'LANG:' word prefixes removed."""
    languages, out = languages or LanguageCodes(), []
    for lang, path in files:
        sentences = read_tagged(path, languages.check(lang, path), "conll", labels=labels, prefix=f"{split}-")
        words = xtreme.strip_language_prefix([s.words for s in sentences])
        out += [dataclasses.replace(s, words=w) for s, w in zip(sentences, words)]
    return out


def read_tagged_translations(path: str, train: Sequence[TaggedSentence], languages: LanguageCodes,
                             keep: Set[str], notes: Optional[list] = None) -> Dict[str, List[TaggedSentence]]:
    """The authors' translate_train.{udpos,panx}.txt ('English words<TAB>LANG<TAB>translated
    words[<TAB>alignment]') matched to training sentences by their words, as their run_tag.py: only
    languages in keep, none of xtreme.TAGGING_MT_SKIPPED, and a sentence without a translation
    translated by itself (language en)."""
    by_text: Dict[str, List[str]] = {}
    for s in train:
        by_text.setdefault(" ".join(s.words), []).append(s.id)
    table: Dict[str, List[TaggedSentence]] = {}
    for lineno, line in _lines(path):
        fields = line.split("\t")
        if len(fields) not in (3, 4):
            raise InputError(f"{path}:{lineno}: expected 'English words<TAB>LANG<TAB>translated words"
                             f"[<TAB>alignment]', got {len(fields)} columns")
        source, lang, words = fields[0], fields[1].strip(), tuple(fields[2].split())
        if lang in xtreme.TAGGING_MT_SKIPPED or lang not in keep or not words:
            continue
        lang = languages.check(lang, f"{path}:{lineno}")
        for i in by_text.get(" ".join(source.split()), ()):
            table.setdefault(i, []).append(TaggedSentence(i, lang, words))
    if not table:
        raise InputError(f"{path}: no line translates a training sentence into {sorted(keep)}; expected the "
                         "training sentences' words, space-separated, in the first column")
    alone = [s for s in train if s.id not in table]
    for s in alone:
        table[s.id] = [TaggedSentence(s.id, xtreme.SOURCE, s.words)]
    if alone and notes is not None:
        notes.append(f"{path}: {len(alone)} of {len(train)} training sentences have no translation; each is its "
                     "own MT view (language en), as in the authors' run_tag.py")
    return table


def read_tydiqa_train(path: str, languages: LanguageCodes) -> List[QAExample]:
    """The English questions (ids 'english-...') of TyDiQA-GoldP's all-language training file."""
    lang = languages.check(xtreme.SOURCE, path)
    out = [ex for ex in read_squad(path, lang, require_answers=True) if ex.id.startswith(xtreme.TYDIQA_SOURCE_ID)]
    if not out:
        raise InputError(f"{path}: no question id starts with {xtreme.TYDIQA_SOURCE_ID!r}; expected "
                         "TyDiQA-GoldP's training file (tydiqa-goldp-v1.1-train.json)")
    return out


def hold_out(train: Sequence[QAExample], every: int) -> Tuple[List[QAExample], List[QAExample]]:
    """(kept, held out): the questions of every `every`-th passage (by first appearance) held out, so that
    no passage is in both."""
    order: Dict[str, int] = {}
    for ex in train:
        order.setdefault(ex.context, len(order))
    held = [ex for ex in train if order[ex.context] % every == every - 1]
    if not held:
        raise InputError(f"{len(order)} training passages: too few to hold out every {every}th for checkpoint "
                         "selection; expected TyDiQA-GoldP's training file")
    return [ex for ex in train if order[ex.context] % every != every - 1], held


def read_qa_translations(files: LangPaths, train: Sequence[QAExample], languages: LanguageCodes,
                         by_id: bool = True, notes: Optional[list] = None) -> Dict[str, List[QAExample]]:
    """{training id: translated questions} from SQuAD-format translate-train files, as the authors'
    run_qa.py pairs them: by question id; a training question without one (with by_id False, every
    one: TyDiQA's translations do not carry the training ids) gets a translated question drawn at
    random, here once with seed 0 (theirs: at each use)."""
    ids = {ex.id for ex in train}
    table: Dict[str, List[QAExample]] = {}
    pool: List[QAExample] = []
    for lang, path in files:
        for ex in read_squad(path, languages.check(lang, path), require_answers=True):
            pool.append(ex)
            if by_id and ex.id in ids:
                table.setdefault(ex.id, []).append(ex)
    rng, drawn = random.Random(0), [ex.id for ex in train if ex.id not in table]
    for i in drawn:
        table[i] = [dataclasses.replace(pool[rng.randrange(len(pool))], id=i)]
    if drawn and notes is not None:
        why = "have no translation with their id" if by_id else "are not paired by id (TyDiQA's translations have others)"
        notes.append(f"{len(drawn)} of {len(train)} training questions {why}: each got a translated question drawn "
                     "at random (seed 0), as the authors' run_qa.py draws one at each use")
    return table
