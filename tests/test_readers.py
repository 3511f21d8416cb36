"""Classification TSV and translate-train readers: good files parse, bad ones name file and line."""

import pytest

from xtune_fairseq.core.data.readers import read_classification_tsv, read_translations
from xtune_fairseq.core.errors import InputError


def write(tmp_path, text, name="train.tsv"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_single_and_pair_files(tmp_path):
    single = read_classification_tsv(write(tmp_path, "id\tlang\tsentence\tlabel\n1\ten\ta b\tpos\n"))
    assert single[0].texts == ("a b",) and single[0].label == "pos" and single[0].lang == "en"
    pair = read_classification_tsv(write(tmp_path, "label\tsentence1\tsentence2\tlang\tid\nyes\ta\tb\tde\tx\n", "p.tsv"))
    assert pair[0].texts == ("a", "b") and pair[0].id == "x"


@pytest.mark.parametrize("text,match", [
    ("id\tlang\tsentence\tlabel\n1\ten\ta b\n", r"train\.tsv:2: expected 4 tab-separated columns"),
    ("id\tlang\tsentence\tlabel\n1\ten\ta\tpos\n2\ten\tb\tpos\textra\n", r"train\.tsv:3: expected 4"),
    ("id\tsentence\tlabel\n1\ta\tpos\n", r"train\.tsv:1: header must name"),
    ("", r"train\.tsv: empty file"),
    ("id\tlang\tsentence\tlabel\n", r"no examples"),
    ("id\tlang\tsentence\tlabel\n1\ten\t\tpos\n", r"train\.tsv:2: empty sentence"),
    ("id\tlang\tsentence\tlabel\n1\ten\ta\tpos\n1\ten\tb\tneg\n", r"train\.tsv:3: duplicate example id"),
])
def test_malformed_rows(tmp_path, text, match):
    with pytest.raises(InputError, match=match):
        read_classification_tsv(write(tmp_path, text))


def test_unknown_label_names_file_and_line(tmp_path):
    path = write(tmp_path, "id\tlang\tsentence\tlabel\n1\tde\ta\tpos\n2\tde\tb\tmaybe\n", "test.tsv")
    with pytest.raises(InputError, match=r"test\.tsv:3: unknown label 'maybe'"):
        read_classification_tsv(path, labels=["neg", "pos"])


def test_translations_keyed_by_id(tmp_path):
    train = read_classification_tsv(write(tmp_path, "id\tlang\tsentence\tlabel\n1\ten\ta\tpos\n2\ten\tb\tneg\n"))
    table = read_translations(write(tmp_path, "id\tlang\tsentence\n1\tde\tA\n1\tfr\tAA\n", "tr.tsv"), train)
    assert [t.texts[0] for t in table["1"]] == ["A", "AA"] and "2" not in table
    with pytest.raises(InputError, match="matches no training example"):
        read_translations(write(tmp_path, "id\tlang\tsentence\n9\tde\tA\n", "tr2.tsv"), train)


def test_translations_stream_into_preprocess(tiny, tmp_path, capsys):
    """xtune-preprocess writes translations as it reads them (XNLI's 5.5M rows are never held): the
    table training reads equals the file's rows by id, and a bad row late in the file fails naming
    file and line with nothing written, an earlier output of the same destination kept whole."""
    import json

    from xtune_fairseq.cli import preprocess
    from xtune_fairseq.core.data.prepared import TRANSLATIONS, meta_path, read_translation_table

    train = read_classification_tsv(tiny["train"])
    expected = read_translations(tiny["translations"], train)
    dest = tmp_path / "bin"
    args = ["--model-dir", tiny["model"], "--train", tiny["train"], "--dest", str(dest)]
    assert preprocess.main(args + ["--translations", tiny["translations"]]) == 0
    assert dict(read_translation_table(meta_path(str(dest), TRANSLATIONS)).items()) == expected
    before = {p.name: p.read_bytes() for p in (dest / "meta").iterdir()}
    with open(tiny["translations"], encoding="utf-8") as f:
        lines = f.read().splitlines()
    bad = tmp_path / "bad.tsv"
    bad.write_text("\n".join(lines + ["no-such-id\tde\tx"]) + "\n", encoding="utf-8")
    assert preprocess.main(args + ["--translations", str(bad), "--force"]) == 2
    assert "bad.tsv: translation id 'no-such-id' matches no training example" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (dest / "meta").iterdir()} == before
    assert json.loads((dest / "xtune.json").read_text())["kind"] == "classification"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]  # no half-written folder left
