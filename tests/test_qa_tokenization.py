"""QA words in Chinese, Japanese and Thai: by default the authors' split (whitespace only, each run
tokenized alone: xtune's squad.py), so the ids fairseq trains on are those transformers' tokenizer
gives; `--qa-word-split character` (a word per character of a script without spaces) is recorded
in xtune.json, and `xtune-convert to-hf` then exports a tokenizer that splits the same way."""

import json
import os

import pytest

from conftest import make_task
from test_hf_export import export, save_checkpoint
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.qa.windows import INFO_KEY, split_unspaced_of, split_words

pytest.importorskip("transformers")
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "qa")
MAX, QUERY = 96, 32
WINDOWS = ("--max-positions", str(MAX), "--doc-stride", "32", "--max-query-length", str(QUERY))
# (context, [(question, answer)]): a full-width number, an ideographic space (U+3000), Thai vowel and
# tone marks and SARA AM (whose normal form is a mark and a vowel)
JA = [("富士山は静岡県と山梨県にまたがる活火山で、標高は3776メートルです。日本で最も高い山として知られ、"
       "2013年に世界文化遺産に登録されました。毎年７月から９月の登山シーズンには、約２０万人が山頂を目指します。",
       [("富士山の標高は何メートルですか？", "3776メートル"), ("富士山はいつ世界文化遺産に登録されましたか？", "2013年"),
        ("登山シーズンは何月からですか？", "７月")]),
      ("京都には千年以上の歴史があります。\u3000金閣寺や清水寺など、多くの寺院が観光客に人気です。",
       [("京都で人気の寺院はどこですか？", "金閣寺")])]
TH = [("กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย มีประชากรประมาณ 10 ล้านคน "
       "แม่น้ำเจ้าพระยาไหลผ่านใจกลางเมือง ทำให้การเดินทางทางน้ำเป็นที่นิยม",
       [("เมืองหลวงของประเทศไทยคืออะไร", "กรุงเทพมหานคร"), ("แม่น้ำอะไรไหลผ่านกรุงเทพมหานคร", "แม่น้ำเจ้าพระยา"),
        ("กรุงเทพมหานครมีประชากรประมาณเท่าไร", "10 ล้านคน")])]


def squad(path, lang, paragraphs):
    paras = [{"context": ctx, "qas": [{"id": f"{lang}-{i}-{k}", "question": q,
                                       "answers": [{"text": a, "answer_start": ctx.index(a)}]}
                                      for k, (q, a) in enumerate(qas)]}
             for i, (ctx, qas) in enumerate(paragraphs)]
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"version": "1.1", "data": [{"title": lang, "paragraphs": paras}]}, f, ensure_ascii=False)
    return str(path)


def texts_of(path):
    return [t for a in json.load(open(path, encoding="utf-8"))["data"] for p in a["paragraphs"]
            for t in [p["context"]] + [q["question"] for q in p["qas"]]]


@pytest.fixture(scope="module")
def cjk(tmp_path_factory):
    """A tiny model whose sentencepiece learned Chinese, Japanese and Thai words (pieces of several
    characters), English training questions, zh/ja/th dev and test data in both word splits."""
    from xtune_fairseq.prepare import build_tiny_model, preprocess_qa

    root = tmp_path_factory.mktemp("qa_cjk")
    evals = [("zh", os.path.join(FIXTURES, "zh.json")), ("ja", squad(root / "ja.json", "ja", JA)),
             ("th", squad(root / "th.json", "th", TH))]
    train = [("en", os.path.join(FIXTURES, "en.json"))]
    lines = [t for _, path in train + evals for t in texts_of(path)]
    (root / "corpus.txt").write_text("\n".join(lines * 5) + "\n", encoding="utf-8")
    model = build_tiny_model(str(root / "model"), str(root / "corpus.txt"), vocab_size=450)
    out = {"root": root, "model": model, "evals": evals}
    for split in ("whitespace", "character"):
        out[split] = preprocess_qa(model, str(root / split), train, evals, evals, word_split=split)
    return out


def first_windows(cjk, split):
    """(task, [(example, ids of its first window)]) of the dev questions."""
    task, cfg = make_task({"root": cjk["root"], "bin": cjk[split], "model": cjk["model"]}, *WINDOWS,
                          task="xtune_span_extraction")
    task.load_dataset("valid")
    ds = task.dataset("valid")
    inner = ds.dataset if hasattr(ds, "dataset") else ds
    rows = [(inner.examples[i], inner[row]["source"].tolist()) for row, (i, k) in enumerate(inner.rows) if k == 0]
    return task, cfg, rows


def test_the_default_split_is_the_authors_whitespace_split():
    assert [w.text for w in split_words("在1935年 培育, ok")] == ["在1935年", "培育,", "ok"]
    # an ideographic space separates words (sentencepiece and transformers make it a space) ...
    assert [(w.text, w.start) for w in split_words("京都\u3000金閣寺")] == [("京都", 0), ("金閣寺", 3)]
    # ... a vertical tab does not: XLM-R's normaliser deletes it, so no word boundary is there
    assert [w.text for w in split_words("ab\x0bcd ef")] == ["ab\x0bcd", "ef"]


def test_character_split_follows_the_normal_form():
    # full-width Latin is Latin once normalised; Thai SARA AM is a mark (on its consonant) and a vowel
    assert [w.text for w in split_words("ＡＢ年", True)] == ["ＡＢ", "年"]
    words = split_words("น้ำ", True)
    assert [(w.text, w.start, w.end) for w in words] == [("น้\u0e4d", 0, 3), ("\u0e32", 2, 3)]


@pytest.mark.parametrize("split", ["whitespace", "character"])
def test_exported_tokenizer_gives_the_training_ids(cjk, split, tmp_path):
    """xtune-convert to-hf of a QA checkpoint: transformers' tokens of every dev question (cut to
    --max-query-length, as the authors cut it) and context (cut to the window) are the first window
    the model was trained and evaluated on; so is its pair encoding where the question fits."""
    from transformers import AutoTokenizer

    task, cfg, rows = first_windows(cjk, split)
    save_checkpoint(task, cfg, tmp_path / "ck.pt")
    out = export(tmp_path / "ck.pt", tmp_path / "hf")
    assert json.loads(open(os.path.join(out, "config.json")).read())["xtune"][INFO_KEY] == split
    tok = AutoTokenizer.from_pretrained(out)
    langs, pairs = set(), 0
    for ex, ids in rows:
        question = tok(ex.question, add_special_tokens=False)["input_ids"]
        context = tok(ex.context, add_special_tokens=False)["input_ids"]
        q = question[:QUERY]
        assert [0] + q + [2, 2] + context[: MAX - len(q) - 4] + [2] == ids, ex.id
        if len(question) <= QUERY:
            assert tok(ex.question, ex.context, truncation="only_second", max_length=MAX)["input_ids"] == ids, ex.id
            pairs += 1
        langs.add(ex.lang)
    assert langs == {"zh", "ja", "th"} and pairs >= 3


def test_the_two_splits_train_on_other_ids(cjk):
    """The flag does something: every context without spaces is tokenized differently."""
    whitespace = {ex.id: ids for ex, ids in first_windows(cjk, "whitespace")[2]}
    character = {ex.id: ids for ex, ids in first_windows(cjk, "character")[2]}
    assert whitespace.keys() == character.keys()
    assert all(whitespace[i] != character[i] for i in whitespace)


def test_xtune_json_records_the_split(cjk, tmp_path):
    for split in ("whitespace", "character"):
        info = json.loads(open(os.path.join(cjk[split], "xtune.json")).read())
        assert info[INFO_KEY] == split and split_unspaced_of(info, "x") == (split == "character")
    # a directory written before the key existed was split per character, and is read so
    assert split_unspaced_of({"kind": "qa"}, "old/xtune.json") is True
    with pytest.raises(InputError, match=r"^old/xtune.json: qa_word_split 'words' is not one of whitespace, character"):
        split_unspaced_of({INFO_KEY: "words"}, "old/xtune.json")


def test_command_line_flag(cjk, tmp_path, capsys):
    from xtune_fairseq.cli.preprocess import main

    zh = os.path.join(FIXTURES, "zh.json")
    assert main(["--model-dir", cjk["model"], "--kind", "qa", "--train", f"zh:{zh}", "--dest", str(tmp_path / "d"),
                 "--qa-word-split", "character"]) == 0
    assert json.loads((tmp_path / "d" / "xtune.json").read_text())[INFO_KEY] == "character"
    assert main(["--model-dir", cjk["model"], "--kind", "tagging", "--train", f"zh:{zh}",
                 "--dest", str(tmp_path / "e"), "--qa-word-split", "character"]) == 2
    assert "--qa-word-split goes with --kind qa" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()


def test_a_checkpoint_refuses_data_split_otherwise(cjk, tmp_path, capsys):
    """The checkpoint records its words: exported (or evaluated) with a directory split the other way,
    the tokenizer would give other ids than training did."""
    from xtune_fairseq.cli.convert import main

    task, cfg, _ = first_windows(cjk, "character")
    save_checkpoint(task, cfg, tmp_path / "ck.pt")
    assert main(["to-hf", str(tmp_path / "ck.pt"), "--out", str(tmp_path / "hf"), "--data", cjk["whitespace"]]) == 2
    err = capsys.readouterr().err
    assert "was trained on QA words split by character" in err and "--qa-word-split character" in err
    assert not (tmp_path / "hf").exists()
