"""xtune-preprocess --xtreme: XTREME's download layouts (tests/fixtures/xtreme, small files written
as google-research/xtreme's utils_preprocess.py and the authors' copy write them) read into the
prepared data directory, and bad layouts refused in one line naming the file."""

import json
import os
import shutil

import pytest

from xtune_fairseq.core.augment.code_switch import load_muse_dictionaries
from xtune_fairseq.core.data import xtreme
from xtune_fairseq.core.errors import InputError

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "xtreme")
ROOT = os.path.join(FIXTURES, "download")
TRANSLATIONS = os.path.join(ROOT, "xtreme_translations")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny model whose sentencepiece has seen the fixtures' text."""
    from xtune_fairseq.prepare import build_tiny_model

    root = tmp_path_factory.mktemp("xtreme")
    lines = []
    for folder, _, files in os.walk(FIXTURES):
        for name in files:
            with open(os.path.join(folder, name), encoding="utf-8-sig") as f:
                lines += [" ".join(line.replace("\t", " ").split()) for line in f if line.strip()]
    (root / "corpus.txt").write_text("\n".join(lines * 3) + "\n", encoding="utf-8")
    return build_tiny_model(str(root / "model"), str(root / "corpus.txt"), vocab_size=300)


def prepare(model, tmp_path, task, root=ROOT, **kwargs):
    from xtune_fairseq.prepare import preprocess_xtreme

    notes = []
    dest = preprocess_xtreme(task, root, model, str(tmp_path / f"{task}-bin"), notes=notes, **kwargs)
    info = json.load(open(os.path.join(dest, "xtune.json")))
    rows = {split: [json.loads(line) for line in open(os.path.join(dest, "meta", f"{split}.jsonl"), encoding="utf-8")]
            for split in info["splits"] + (["translations"] if kwargs.get("translations") else [])}
    return info, rows, notes


def base(rows):
    return [os.path.basename(path) for _, path in rows]


# --- layouts (no model) ----------------------------------------------------------------------

def test_each_task_finds_its_files_as_download_data_sh_names_them():
    files = {task: xtreme.task_files(task, ROOT) for task in xtreme.TASKS}
    assert base(files["xnli"]["train"]) == ["train-en.tsv"]
    assert base(files["xnli"]["valid"]) == ["dev-de.tsv", "dev-en.tsv"]
    assert [lang for lang, _ in files["udpos"]["test"]] == ["de", "fr", "vi"]
    assert base(files["xquad"]["train"] + files["xquad"]["valid"]) == ["train-v1.1.json", "dev-v1.1.json"]
    # MLQA: context and question in the same language; the cross-lingual dev-context-de-question-en is not read
    assert base(files["mlqa"]["valid"]) == ["dev-context-de-question-de.json", "dev-context-en-question-en.json"]
    assert base(files["mlqa"]["test"]) == ["test-context-de-question-de.json", "test-context-en-question-en.json"]
    # TyDiQA-GoldP: the all-language training file (unique ids), its dev files as dev and test
    assert base(files["tydiqa"]["train"]) == ["tydiqa-goldp-v1.1-train.json"]
    assert files["tydiqa"]["valid"] == files["tydiqa"]["test"] and len(files["tydiqa"]["test"]) == 2
    raw = xtreme.task_files("panx", os.path.join(FIXTURES, "raw"))  # no panx/: the raw WikiANN files
    assert base(raw["train"]) == ["en-train"] and base(raw["test"]) == ["de-test"]


def test_csv_quoting_is_undone_only_in_files_written_with_it():
    # XTREME's csv.writer default quotes a field holding `"`; the authors' copy writes it as it is
    assert xtreme.split_fields(['"He said ""no"""\tok', "plain\tok"]) == [['He said "no"', "ok"], ["plain", "ok"]]
    raw = ['The "Blue" river\tok', '"quoted"\tok']
    assert xtreme.split_fields(raw) == [['The "Blue" river', "ok"], ['"quoted"', "ok"]]


def test_language_prefixes_are_cut_only_when_every_word_has_the_same_one():
    assert xtreme.strip_language_prefix([("en:Paris", "en:is"), ("en:http://x",)]) == [("Paris", "is"), ("http://x",)]
    assert xtreme.strip_language_prefix([("en:Paris", "is")]) == [("en:Paris", "is")]
    assert xtreme.strip_language_prefix([("en:Paris", "de:ist")]) == [("en:Paris", "de:ist")]


def test_muse_dictionaries_as_published_space_or_tab_several_lines_per_word():
    dicts = load_muse_dictionaries([os.path.join(ROOT, "dicts", f"en-{lang}.txt") for lang in ("de", "vi")])
    assert dicts["de"]["cat"] == ["katze", "kater"] and dicts["vi"]["hello"] == ["xin chào"]
    assert xtreme.dictionary_paths(ROOT, ["de", "en", "fr"]) == ([os.path.join(ROOT, "dicts", "en-de.txt")], ["fr"])


# --- read -> preprocess -> prepared data -----------------------------------------------------

def test_xnli_with_translate_train(model, tmp_path):
    info, rows, notes = prepare(model, tmp_path, "xnli", translations=TRANSLATIONS)
    assert info["kind"] == "classification" and info["sentence_pair"]
    assert info["labels"] == ["contradiction", "entailment", "neutral"] and info["languages"] == ["de", "en"]
    assert rows["train"][1]["texts"] == ['He said "no" twice.', "He agreed."]  # csv quoting undone
    assert [(r["lang"], r["label"]) for r in rows["valid"]] == [("de", "entailment"), ("de", "contradiction"),
                                                                ("en", "entailment"), ("en", "contradiction")]
    assert rows["valid"][0]["texts"][0] == "Der Hund rennt."  # the BOM is not part of the first sentence
    assert len(rows["test"]) == 3
    # translations matched to the English pairs by text; the row without an English original is ignored
    assert [(r["id"], r["lang"]) for r in rows["translations"]] == [(r["id"], "de") for r in rows["train"]]
    assert rows["translations"][1]["texts"] == ['Er sagte zweimal "nein".', "Er stimmte zu."]
    assert any("--code-switch-dicts" in n and "en-de.txt" in n for n in notes)


def test_pawsx_empty_pairs_left_out_unlabelled_test_files_kept_without_labels(model, tmp_path):
    info, rows, notes = prepare(model, tmp_path, "pawsx", translations=TRANSLATIONS)
    assert info["splits"] == ["test", "train", "valid"] and info["labels"] == ["0", "1"]
    assert rows["train"][0]["texts"] == ['The "Blue" river flows north.', 'The river "Blue" flows north.']
    assert len(rows["train"]) == 3 and len(rows["translations"]) == 3
    assert any("left out 1 row(s) with an empty sentence" in n for n in notes)
    # XTREME's test files have no label column: kept, label None (predicted, never scored)
    assert [(r["lang"], r["texts"][0], r["label"]) for r in rows["test"]] == [("en", "A b c.", None),
                                                                           ("fr", "Un b c.", None)]
    assert any("2 of 2 test file(s) without labels" in n and "not scored" in n for n in notes)
    marker = json.load(open(tmp_path / "pawsx-bin" / "meta" / "xtreme.json"))
    assert marker == {"task": "pawsx", "unlabelled": {"test": ["en", "fr"]}}


def test_udpos_fused_tokens_unlabelled_test_and_authors_translations(model, tmp_path):
    info, rows, notes = prepare(model, tmp_path, "udpos", translations=TRANSLATIONS)
    assert info["kind"] == "tagging" and "ADP" in info["labels"]
    fr = [r for r in rows["valid"] if r["lang"] == "fr"]
    assert fr[1]["words"] == ["Il", "parle", "du", "livre", "."] and fr[1]["tags"][2] == "ADP"  # du: one word
    assert sorted({r["lang"] for r in rows["test"] if r["tags"]}) == ["fr", "vi"]  # test-de.tsv has no tags:
    assert [r["words"] for r in rows["test"] if r["lang"] == "de"][0] == ["Der", "Hund", "bellt", "."]  # kept, untagged
    assert [r["tags"] for r in rows["test"] if r["lang"] == "de"] == [None]
    assert [r for r in rows["test"] if r["lang"] == "fr"][0]["words"][0] == "Le"  # BOM dropped
    by_id = {}
    for r in rows["translations"]:
        by_id.setdefault(r["id"], []).append((r["lang"], " ".join(r["words"])))
    # zh-CN is one of the languages the authors' tagging MT leaves out; fr and vi are dev/test languages
    assert by_id["train-en-0"] == [("fr", "Le chat dort dans la maison .")]
    assert by_id["train-en-1"] == [("fr", "Les chiens aboient ."), ("vi", "Chó sủa .")]
    assert by_id["train-en-2"] == [("en", "It is big .")]  # no translation: itself, as the authors' run_tag.py
    assert any("1 of 3 training sentences have no translation" in n for n in notes)


def test_panx_raw_wikiann_prefixes_are_removed(model, tmp_path):
    info, rows, _ = prepare(model, tmp_path, "panx", root=os.path.join(FIXTURES, "raw"))
    assert rows["train"][0]["words"] == ["Paris", "is", "in", "France"]
    assert rows["train"][1]["words"][1] == "http://x.org"
    assert rows["test"][0]["words"] == ["Anna", "wohnt", "in", "Rom"] and rows["test"][0]["lang"] == "de"
    info, rows, notes = prepare(model, tmp_path / "processed", "panx", languages=["de"])
    assert [r["lang"] for r in rows["valid"]] == ["de"] and [(r["lang"], r["tags"]) for r in rows["test"]] == [
        ("de", None)]  # XTREME's panx/test-de.tsv: words only


def test_xquad_and_mlqa_read_squad_json_by_their_names(model, tmp_path):
    info, rows, notes = prepare(model, tmp_path, "xquad", translations=TRANSLATIONS)
    # xquad.es: answers removed (XTREME's): kept without answers
    assert info["kind"] == "qa" and [(r["lang"], bool(r["answers"])) for r in rows["test"]] == [
        ("de", True), ("en", True), ("es", False)]
    assert [r["id"] for r in rows["valid"]] == ["57d1"]  # SQuAD's dev set
    trans = {r["id"]: r for r in rows["translations"]}
    assert trans["56be1"]["question"].startswith("Wann") and trans["56be2"]["answers"] == [["38 Meter", 50]]
    assert trans["56be3"]["lang"] == "de"  # no translation with its id: one drawn at random
    info, rows, _ = prepare(model, tmp_path, "mlqa")
    assert [(r["lang"], r["question"]) for r in rows["valid"]] == [("de", "Wer schrieb es?"), ("en", "Who wrote it?")]
    assert [r["answers"] for r in rows["test"]] == [[["38 Meter", 50]], [["38 metres", 53]]]


def test_tydiqa_trains_on_the_english_questions_of_the_all_language_file(model, tmp_path):
    info, rows, notes = prepare(model, tmp_path, "tydiqa", translations=TRANSLATIONS)
    assert [r["id"] for r in rows["train"]] == ["english-7700000000000000001-0", "english--1200000000000000002-0"]
    assert rows["valid"] == rows["test"] and info["languages"] == ["en", "fi"]
    assert [r["lang"] for r in rows["translations"]] == ["fi", "fi"]  # ids differ: paired at random
    assert {r["id"] for r in rows["translations"]} == {r["id"] for r in rows["train"]}
    assert any("no held-out dev set" in n for n in notes) and any("not paired by id" in n for n in notes)


# --- bad layouts ------------------------------------------------------------------------------

def copy_task(tmp_path, task):
    root = tmp_path / "download"
    shutil.copytree(os.path.join(ROOT, task), root / task)
    return root


@pytest.mark.parametrize("edit,message", [
    (lambda r: (r / "xnli" / "dev-de.tsv").write_text("a\tb\tentailment\nc\tneutral\n"),
     r"dev-de\.tsv:2: expected 3 tab-separated columns"),
    (lambda r: (r / "xnli" / "dev-de.tsv").write_text("a\tb\tmaybe\n"), r"dev-de\.tsv:1: unknown label 'maybe'"),
    (lambda r: (r / "xnli" / "dev-de.tsv").write_bytes(b"a\tb\tneutral\n\xff\xfe\tb\tneutral\n"),
     r"dev-de\.tsv:2: not UTF-8"),
    (lambda r: (r / "xnli" / "dev-de.tsv").write_text("a\tb\n"), r"dev-de\.tsv: no labels \(valid data needs them\)"),
    (lambda r: (r / "xnli" / "train-en.tsv").unlink(), r"xnli: no train-en\.tsv"),
    (lambda r: [p.unlink() for p in (r / "xnli").glob("dev-*")], r"xnli: no dev files"),
    (lambda r: shutil.rmtree(r / "xnli"), r"download/xnli: not found; expected the folder"),
])
def test_bad_classification_layouts_name_the_file(model, tmp_path, edit, message):
    from xtune_fairseq.prepare import preprocess_xtreme

    root = copy_task(tmp_path, "xnli")
    edit(root)
    with pytest.raises(InputError, match=message):
        preprocess_xtreme("xnli", str(root), model, str(tmp_path / "bin"), notes=[])
    assert not (tmp_path / "bin").exists()


def test_bad_translations_and_tagging_files_name_the_file(model, tmp_path):
    from xtune_fairseq.prepare import preprocess_xtreme

    root = copy_task(tmp_path, "xnli")
    tr = tmp_path / "tr" / "XNLI" / "translate-train"
    tr.mkdir(parents=True)
    (tr / "en-de-translated.tsv").write_text("Die Katze.\tEine Katze.\tentailment\n")  # no English columns
    with pytest.raises(InputError, match=r"en-de-translated\.tsv:1: expected 5 tab-separated columns"):
        preprocess_xtreme("xnli", str(root), model, str(tmp_path / "bin"), str(tmp_path / "tr"), notes=[])
    (tr / "en-de-translated.tsv").write_text("The cat sat on the mat.\tA cat is sitting.\tA\tB\tentailment\n")
    with pytest.raises(InputError, match=r"3 of 4 training pairs have no translation"):
        preprocess_xtreme("xnli", str(root), model, str(tmp_path / "bin"), str(tmp_path / "tr"), notes=[])
    root = copy_task(tmp_path / "t", "udpos")
    (root / "udpos" / "dev-fr.tsv").write_text("Le\tDET\nchat\tNOUN\nbon\tWEIRD\n")
    with pytest.raises(InputError, match=r"dev-fr\.tsv:3: tag 'WEIRD' is not in the training label set"):
        preprocess_xtreme("udpos", str(root), model, str(tmp_path / "bin"), notes=[])


def test_cli_flags_and_one_line_errors(model, tmp_path, capsys):
    from xtune_fairseq.cli.preprocess import main

    argv = ["--model-dir", model, "--dest", str(tmp_path / "bin")]
    assert main(argv + ["--xtreme", "xnli", ROOT, "--languages", "de"]) == 0
    assert json.load(open(tmp_path / "bin" / "xtune.json"))["languages"] == ["de", "en"]  # en: the training data
    assert "note: code-switch dictionaries" in capsys.readouterr().err
    for extra, message in [
        (["--xtreme", "squadx", ROOT], "--xtreme 'squadx': expected one of xnli, pawsx"),
        (["--xtreme", "xnli", ROOT, "--train", "t.tsv"], "leave out --train, --valid, --test"),
        (["--xtreme", "xnli", ROOT, "--kind", "qa"], "--kind qa: --xtreme xnli is classification data"),
        (["--xtreme", "xnli", ROOT, "--languages", "fr"], "--languages: no dev or test files for ['fr']"),
        (["--languages", "de"], "--languages goes with --xtreme"),
        (["--xtreme", "xnli", str(tmp_path)], "xnli: not found; expected the folder"),
        (["--xtreme", "xnli", ROOT, "--translations", str(tmp_path)], "en-LANG-translated.tsv: none found for de, en"),
        ([], "--train is required (or --xtreme TASK DIR)"),
    ]:
        assert main(argv + extra) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
