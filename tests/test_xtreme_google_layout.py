"""XTREME's own download (google-research/xtreme scripts/download_data.sh + utils_preprocess.py),
whose test sets have no labels: files written here the way those scripts write them (csv.writer's
tab-separated rows with CRLF endings and csv quoting and no header, a label column only outside test,
tagging test files with words only, SQuAD JSON whose test answers are blanked to
{"answer_start": 0, "text": ""}, TyDiQA-GoldP's per-language training files with ids cut to their
number and its dev files blanked) and read by xtune-preprocess --xtreme; test sets stay test sets
without labels, predicted in XTREME's submission layout (mock_test_data/predictions), never scored.

write_layout() also makes the labelled copy (labelled=True: the files before the labels were
removed), which the check against XTREME's evaluate.py (docs/xtreme-data.md) scores."""

import csv
import json
import os
import random

import pytest

from xtune_fairseq.core.data import xtreme

PAIR_LABELS = {"xnli": ("contradiction", "entailment", "neutral"), "pawsx": ("0", "1")}
TAGS = {"udpos": ("ADJ", "DET", "NOUN", "PUNCT", "VERB"), "panx": ("B-LOC", "B-PER", "I-LOC", "I-PER", "O")}
TYDIQA_NAMES = {"ar": "arabic", "bn": "bengali", "en": "english", "fi": "finnish", "id": "indonesian",
                "ko": "korean", "ru": "russian", "sw": "swahili", "te": "telugu"}
LANGS = {"xnli": ["de", "en", "fr"], "pawsx": ["de", "en"], "udpos": ["de", "en", "vi"], "panx": ["de", "en"],
         "xquad": ["de", "en", "es"], "mlqa": ["de", "en"], "tydiqa": ["en", "fi"]}


def words(rng, lang, n):
    return [f"{lang}{rng.choice('abcdefgh')}{rng.choice('ijklmno')}" for _ in range(n)]


def marker(rng, labels, i):
    """A word that gives the label away 4 times in 5 (the same in every language): a model learns it."""
    return f"mk{'abc'[i % len(labels) if rng.random() < 0.8 else rng.randrange(len(labels))]}"


def tag_of(rng, task, word):
    """A word's tag: from its last letter 4 times in 5."""
    return TAGS[task][ord(word[-1]) % len(TAGS[task])] if rng.random() < 0.8 else rng.choice(TAGS[task])


def write_csv(path, rows):
    """utils_preprocess.py's csv.writer(fout, delimiter='\\t'): CRLF, a field holding `"` quoted."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter="\t").writerows(rows)


def write_pairs(root, task, langs, n, rng, labelled):
    labels = PAIR_LABELS[task]
    for split, split_langs in (("train", ["en"]), ("dev", langs), ("test", langs)):
        for lang in split_langs:
            rows = [[" ".join([marker(rng, labels, i)] + words(rng, lang, 3)), " ".join(words(rng, lang, 3)),
                     labels[i % len(labels)]] for i in range(n * (3 if split == "train" else 1))]  # every label in train
            rows[0][0] = f'He said "{rows[0][0]}"'  # quoted by csv.writer
            if split == "test" and task == "pawsx":
                rows[1][1] = ""  # PAWS-X has empty sentences; XTREME keeps the row in its test files
            keep_label = split != "test" or labelled
            write_csv(os.path.join(root, task, f"{split}-{lang}.tsv"), [r if keep_label else r[:2] for r in rows])


def write_tags(root, task, langs, n, rng, labelled):
    """udpos: words (and tags), '\\n' between words, a blank line after each sentence; panx the same."""
    os.makedirs(os.path.join(root, task), exist_ok=True)
    for split, split_langs in (("train", ["en"]), ("dev", langs), ("test", langs)):
        for lang in split_langs:
            sentences = [[(w, tag_of(rng, task, w)) for w in words(rng, lang, rng.randint(2, 6))]
                         for _ in range(n * (3 if split == "train" else 1))]
            if split == "train":  # every tag in train
                sentences[0] = [(w, t) for w, t in zip(words(rng, lang, len(TAGS[task])), TAGS[task])]
            with open(os.path.join(root, task, f"{split}-{lang}.tsv"), "w", encoding="utf-8") as f:
                for s in sentences:
                    f.write("".join(f"{w}\n" if split == "test" and not labelled else f"{w}\t{t}\n" for w, t in s))
                    f.write("\n")


def squad(rng, lang, n, ids):
    articles = []
    for k in range(n):
        context_words = words(rng, lang, 12)
        start = rng.randint(0, 9)
        answer = " ".join(context_words[start:start + rng.randint(1, 3)])
        context = " ".join(context_words)
        qas = [{"answers": [{"answer_start": context.index(answer), "text": answer}],
                "question": " ".join(words(rng, lang, 4)) + "?", "id": ids(k)}]
        articles.append({"title": f"t{k}", "paragraphs": [{"context": context, "qas": qas}]})
    return {"data": articles, "version": "1.1"}


def blank(doc):
    """utils_preprocess.py's remove_qa_test_annotations: a paragraph per question, answers blanked."""
    data = [{"paragraphs": [{"context": p["context"], "qas": [{"answers": [{"answer_start": 0, "text": ""}],
                                                               "question": q["question"], "id": q["id"]}]}]}
            for a in doc["data"] for p in a["paragraphs"] for q in p["qas"]]
    return {"data": data, "version": doc["version"]}


def write_json(path, doc):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)


def write_qa(root, task, langs, n, rng, labelled):
    test = (lambda d: d) if labelled else blank
    if task in ("xquad", "mlqa"):
        write_json(os.path.join(root, "squad", "train-v1.1.json"), squad(rng, "en", 3 * n, lambda k: f"56be{k:020x}"))
        write_json(os.path.join(root, "squad", "dev-v1.1.json"), squad(rng, "en", n, lambda k: f"57d1{k:020x}"))
    for lang in langs:
        if task == "xquad":  # the same ids in every language
            write_json(os.path.join(root, "xquad", f"xquad.{lang}.json"), test(squad(rng, lang, n, lambda k: f"5725{k:020x}")))
        if task == "mlqa":
            for split, edit in (("dev", lambda d: d), ("test", test)):
                doc = squad(rng, lang, n, lambda k: f"{rng.getrandbits(160):040x}")
                write_json(os.path.join(root, "mlqa", "MLQA_V1", split, f"{split}-context-{lang}-question-{lang}.json"),
                           edit(doc))
        if task == "tydiqa":
            name = TYDIQA_NAMES[lang]
            doc = squad(rng, lang, n, lambda k: f"{name}-{rng.choice(['', '-'])}{rng.getrandbits(62)}-{k % 2}")
            write_json(os.path.join(root, "tydiqa", "tydiqa-goldp-v1.1-dev", f"tydiqa.goldp.{lang}.dev.json"), test(doc))
    if task == "tydiqa":
        train = {"data": [], "version": "1.1"}
        for lang in langs:
            doc = squad(rng, lang, 3 * n, lambda k: f"{TYDIQA_NAMES[lang]}-{rng.getrandbits(62)}-{k % 2}")
            train["data"] += doc["data"]
            cut = {"data": [{"paragraphs": [{"context": p["context"], "qas": [dict(q, id=q["id"].split("-")[-1])]}]}
                            for a in doc["data"] for p in a["paragraphs"] for q in p["qas"]], "version": "1.1"}
            write_json(os.path.join(root, "tydiqa", "tydiqa-goldp-v1.1-train", f"tydiqa.goldp.{lang}.train.json"), cut)
        write_json(os.path.join(root, "tydiqa", "tydiqa-goldp-v1.1-train", "tydiqa-goldp-v1.1-train.json"), train)


def write_layout(root, task, langs=None, n=4, labelled=False, seed=0):
    """XTREME's download folder for `task` (labelled: its test labels kept); returns root."""
    rng = random.Random(f"{task}-{seed}")
    kind = xtreme.task(task).kind
    write = {"classification": write_pairs, "tagging": write_tags, "qa": write_qa}[kind]
    write(str(root), task, langs or LANGS[task], n, rng, labelled)
    return str(root)


def corpus_lines(root):
    lines = []
    for folder, _, files in os.walk(root):
        for name in files:
            text = open(os.path.join(folder, name), encoding="utf-8").read()
            if name.endswith(".json"):
                doc = json.loads(text)
                text = "\n".join(p["context"] + "\n" + "\n".join(q["question"] for q in p["qas"])
                                 for a in doc["data"] for p in a["paragraphs"])
            lines += [" ".join(line.replace("\t", " ").replace('"', " ").split()) for line in text.splitlines()]
    return [line for line in lines if line]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from xtune_fairseq.prepare import build_tiny_model

    root = tmp_path_factory.mktemp("google")
    lines = []
    for task in xtreme.TASKS:
        lines += corpus_lines(write_layout(root / "corpus" / task, task))
    (root / "corpus.txt").write_text("\n".join(lines * 2) + "\n", encoding="utf-8")
    return build_tiny_model(str(root / "model"), str(root / "corpus.txt"), vocab_size=200)


def prepare(model, tmp_path, task, labelled=False):
    from xtune_fairseq.prepare import preprocess_xtreme

    root = write_layout(tmp_path / ("labelled" if labelled else "download"), task, labelled=labelled)
    notes = []
    dest = preprocess_xtreme(task, root, model, str(tmp_path / f"{task}-bin{'-labelled' if labelled else ''}"),
                             notes=notes)
    info = json.load(open(os.path.join(dest, "xtune.json")))
    rows = {split: [json.loads(line) for line in open(os.path.join(dest, "meta", f"{split}.jsonl"), encoding="utf-8")]
            for split in info["splits"]}
    return dest, info, rows, notes


def gold(kind, row):
    return row["label"] if kind == "classification" else row["tags"] if kind == "tagging" else row["answers"]


@pytest.mark.parametrize("task", sorted(xtreme.TASKS))
def test_google_layout_keeps_unlabelled_test_sets(model, tmp_path, task):
    kind, langs = xtreme.task(task).kind, LANGS[task]
    dest, info, rows, notes = prepare(model, tmp_path, task)
    assert info["splits"] == ["test", "train", "valid"]
    assert sorted({r["lang"] for r in rows["test"]}) == langs and not any(gold(kind, r) for r in rows["test"])
    assert all(gold(kind, r) for split in ("train", "valid") for r in rows[split])
    assert json.load(open(os.path.join(dest, "meta", "xtreme.json"))) == {"task": task, "unlabelled": {"test": langs}}
    assert any(f"{len(langs)} of {len(langs)} test file(s) without labels" in n for n in notes)
    if kind == "classification":
        raw = open(os.path.join(tmp_path, "download", task, "test-de.tsv"), "rb").read()
        assert raw.count(b"\r\n") == 4 and b'"He said ""' in raw  # the layout: csv.writer's CRLF and quoting
        assert [r["id"] for r in rows["test"]][:2] == ["test-de-1", "test-de-2"] and len(rows["test"]) == 4 * len(langs)
        assert rows["test"][0]["texts"][0].startswith('He said "') and not any(
            "\r" in t or t.startswith('"') for r in rows["test"] for t in r["texts"])  # CRLF, csv quoting undone
        if task == "pawsx":  # every row kept: a submission has a line per row
            assert rows["test"][1]["texts"][1] == "" and any("kept 1 row(s) with an empty sentence" in n for n in notes)
    elif kind == "tagging":
        written = open(os.path.join(tmp_path, "download", task, "test-de.tsv"), encoding="utf-8").read()
        assert [" ".join(r["words"]) for r in rows["test"] if r["lang"] == "de"] == [
            " ".join(s.split("\n")) for s in written.strip("\n").split("\n\n")]
    elif task == "tydiqa":  # English training questions; held out from them: the valid split (dev files blanked)
        cut = json.load(open(os.path.join(tmp_path, "download", "tydiqa", "tydiqa-goldp-v1.1-train",
                                          "tydiqa.goldp.en.train.json")))  # the layout: ids cut to their number
        assert sorted({q["id"] for a in cut["data"] for p in a["paragraphs"] for q in p["qas"]}) == ["0", "1"]
        assert all(r["id"].startswith("english-") for r in rows["train"] + rows["valid"])
        assert len(rows["valid"]) == 1 and len(rows["train"]) == 11 and any("held out from training" in n for n in notes)
        assert {r["id"].count("-") for r in rows["test"]} <= {2, 3}  # the dev files keep their full ids
    elif task == "xquad":  # SQuAD's dev set selects; XQuAD's ids repeat across languages
        assert {r["lang"] for r in rows["valid"]} == {"en"}
        assert len({r["id"] for r in rows["test"]}) == len(rows["test"]) // len(langs)
    else:
        assert sorted({r["lang"] for r in rows["valid"]}) == langs


@pytest.mark.parametrize("task", ["pawsx", "panx", "tydiqa"])
def test_labelled_copy_is_scored_as_before(model, tmp_path, task):
    kind = xtreme.task(task).kind
    dest, info, rows, notes = prepare(model, tmp_path, task, labelled=True)
    assert all(gold(kind, r) for r in rows["test"]) and not any("without labels" in n for n in notes)
    assert json.load(open(os.path.join(dest, "meta", "xtreme.json")))["unlabelled"] == {}
    if task == "tydiqa":  # the authors' layout: the dev files are both valid and test
        assert rows["valid"] == rows["test"]


def test_submission_layout_and_formats(tmp_path):
    """What XTREME's evaluate.py reads (mock_test_data/predictions): TASK/test-LANG.tsv, a label a line;
    tagging: a tag a line, a blank line between sentences; QA: TASK/test-LANG.json {id: answer}."""
    from xtune_fairseq.core.qa.squad import QAExample
    from xtune_fairseq.evaluation.submission import summary, unlabelled_languages, write_submission

    folder = tmp_path / "sub" / "stage2" / "xnli"
    langs, preds, golds = ["de", "de", "en"], [2, 0, 1], [-100, -100, 1]
    assert unlabelled_languages("classification", langs, golds) == ["de"]
    files = write_submission(str(folder), "classification", "test", langs, preds, golds, ["c", "e", "n"], ["de"])
    assert files == {"de": str(folder / "test-de.tsv")} and (folder / "test-de.tsv").read_bytes() == b"n\nc\n"
    tags = [["B-PER", None], ["O"]]  # a word cut off by --max-positions: O
    write_submission(str(tmp_path / "panx"), "tagging", "test", ["de", "de"], tags, [None, None], [], ["de"])
    assert (tmp_path / "panx" / "test-de.tsv").read_text() == "B-PER\nO\n\nO\n"
    ex = [QAExample("5725a", "es", "q", "c", ()), QAExample("5725b", "es", "q", "c", ())]
    assert unlabelled_languages("qa", ["es", "es"], ex) == ["es"]
    write_submission(str(tmp_path / "xquad"), "qa", "test", ["es", "es"], ["uno", ""], ex, [], ["es"])
    assert json.load(open(tmp_path / "xquad" / "test-es.json")) == {"5725a": "uno", "5725b": ""}
    line = summary({"test": {"stage2": {"per_language": {}, "unlabelled": ["de", "en"],
                                        "submission": {"de": str(folder / "test-de.tsv")}}},
                    "valid": {"stage2": {"per_language": {"de": 50.0, "en": 60.0}}}})
    assert line == (f"scored: valid de,en (2 languages) | predicted only, no labels: test de,en (2 languages) -> "
                    f"{tmp_path / 'sub'}/NAME/xnli/ (XTREME's submission layout)")


def lines_of_test_files(root, task, lang):
    path = os.path.join(root, task, f"test-{lang}.tsv")
    text = open(path, encoding="utf-8").read()
    return text.count("\n") if task == "pawsx" else len([s for s in text.split("\n\n") if s.strip()])


@pytest.mark.slow
@pytest.mark.parametrize("task", ["pawsx", "udpos", "tydiqa"])
def test_pipeline_scores_dev_and_predicts_unlabelled_test_in_xtremes_layout(model, tmp_path, task):
    """xtune-pipeline on Google's layout trains, scores the valid split and writes the test predictions
    as XTREME's leaderboard takes them; xtune-evaluate refuses to 'score' a split without labels and
    writes the same files with --submission-dir."""
    from test_end_to_end import run_cli

    root, data, out = write_layout(tmp_path / "download", task), tmp_path / "bin", tmp_path / "run"
    pre = run_cli("xtune_fairseq.cli.preprocess", "--xtreme", task, root, "--model-dir", model, "--dest", data)
    assert pre.returncode == 0, pre.stderr[-3000:]
    qa = ["--max-positions", "64", "--doc-stride", "32", "--max-query-length", "16"] if task == "tydiqa" else []
    proc = run_cli("xtune_fairseq.cli.pipeline", "--recipe", "baseline", "--stages", "1", "--model-dir", model,
                   "--data", data, "--out", out, "--epochs", "1", "--lr", "1e-3", "--batch-size", "8", "--cpu", *qa)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    langs = LANGS[task]
    summary = [line for line in proc.stdout.splitlines() if line.startswith("[xtune] scored:")]
    assert summary == [f"[xtune] scored: valid {','.join(['en'] if task == 'tydiqa' else langs)} "
                       f"({1 if task == 'tydiqa' else len(langs)} language{'' if task == 'tydiqa' else 's'}) | "
                       f"predicted only, no labels: test {','.join(langs)} ({len(langs)} languages) -> "
                       f"{out / 'xtreme-submission'}/NAME/{task}/ (XTREME's submission layout)"]
    assert (out / "results-valid.json").is_file() and not (out / "results.json").exists()
    folder = out / "xtreme-submission" / "stage1" / task
    assert sorted(os.listdir(folder)) == [f"test-{lang}.{'json' if task == 'tydiqa' else 'tsv'}" for lang in langs]
    for lang in langs:
        if task == "tydiqa":
            dev = json.load(open(os.path.join(root, "tydiqa", "tydiqa-goldp-v1.1-dev", f"tydiqa.goldp.{lang}.dev.json")))
            answers = json.load(open(folder / f"test-{lang}.json"))
            assert sorted(answers) == sorted(q["id"] for a in dev["data"] for p in a["paragraphs"] for q in p["qas"])
            continue
        text = (folder / f"test-{lang}.tsv").read_text()
        if task == "pawsx":  # a label a line, one per row of the test file (the empty-sentence row too)
            assert text.count("\n") == lines_of_test_files(root, task, lang) and set(text.split()) <= {"0", "1"}
        else:  # a tag per word, sentences as in the test file
            written = open(os.path.join(root, task, f"test-{lang}.tsv"), encoding="utf-8").read().strip("\n")
            assert [len(s.split("\n")) for s in text.strip("\n").split("\n\n")] == [
                len(s.split("\n")) for s in written.split("\n\n")]
            assert set(text.split()) <= set(TAGS[task])
    checkpoint = out / "stage1" / "checkpoint_best.pt"
    ev = run_cli("xtune_fairseq.cli.evaluate", "--checkpoint", f"stage1={checkpoint}", "--data", data)
    assert ev.returncode == 2 and "--split test: no language of it has labels" in ev.stderr
    assert ev.stderr.count("\n") == 1, ev.stderr
    ev = run_cli("xtune_fairseq.cli.evaluate", "--checkpoint", f"stage1={checkpoint}", "--data", data,
                 "--submission-dir", tmp_path / "sub")
    assert ev.returncode == 0, ev.stderr[-3000:]
    assert "nothing scored: split test has no labels" in ev.stdout and "scored: nothing (no labels)" in ev.stdout
    for name in os.listdir(folder):
        assert (tmp_path / "sub" / "stage1" / task / name).read_bytes() == (folder / name).read_bytes()


def test_pipeline_scores_every_split_with_labels_and_refuses_a_missing_one_before_training(model, tmp_path):
    from types import SimpleNamespace

    from xtune_fairseq.core.errors import InputError
    from xtune_fairseq.pipeline.run import eval_splits

    google, info, _, _ = prepare(model, tmp_path, "pawsx")
    labelled, _, _, _ = prepare(model, tmp_path, "pawsx", labelled=True)
    assert eval_splits(SimpleNamespace(eval_split="test", data=google), info) == ["test", "valid"]
    assert eval_splits(SimpleNamespace(eval_split="test", data=labelled), info) == ["test"]
    assert eval_splits(SimpleNamespace(eval_split="valid", data=google), info) == ["valid"]
    no_test = dict(info, splits=["train", "valid"])
    assert eval_splits(SimpleNamespace(eval_split="test", data=google), no_test) == ["valid"]
    with pytest.raises(InputError, match="--split dev: .* has the splits test, train, valid"):
        eval_splits(SimpleNamespace(eval_split="dev", data=google), info)


def test_a_test_file_that_changes_its_columns_is_refused_in_one_line(model, tmp_path):
    from xtune_fairseq.core.errors import InputError
    from xtune_fairseq.prepare import preprocess_xtreme

    root = write_layout(tmp_path / "download", "xnli")
    with open(os.path.join(root, "xnli", "test-de.tsv"), "a", encoding="utf-8", newline="") as f:
        f.write("a\tb\tneutral\r\n")  # a label column after rows without one
    with pytest.raises(InputError, match=r"test-de\.tsv:5: expected 'sentence1<TAB>sentence2' .* got 3 columns"):
        preprocess_xtreme("xnli", root, model, str(tmp_path / "bin"), notes=[])
    root = write_layout(tmp_path / "d2", "panx")
    with open(os.path.join(root, "panx", "test-de.tsv"), "a", encoding="utf-8") as f:
        f.write("Rom\tB-LOC\n")
    with pytest.raises(InputError, match=r"panx/test-de\.tsv:\d+: expected one word a line"):
        preprocess_xtreme("panx", root, model, str(tmp_path / "bin"), notes=[])
    assert not (tmp_path / "bin").exists()


def test_a_damaged_xtreme_record_is_one_line(tmp_path):
    """meta/xtreme.json names the task the submission folder is for; a damaged one is a one-line error."""
    from xtune_fairseq.core.errors import InputError
    from xtune_fairseq.evaluation.submission import xtreme_task

    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / xtreme.MARKER).write_text('{"task": "pawsx"', encoding="utf-8")
    with pytest.raises(InputError, match=r"xtreme\.json:1:17: not JSON"):
        xtreme_task(str(tmp_path))
    (tmp_path / "meta" / xtreme.MARKER).write_text('{"task": "pawsx"}', encoding="utf-8")
    assert xtreme_task(str(tmp_path)) == "pawsx"
