"""xtune-convert to-hf: fine-tuned checkpoints (classification, tagging, QA) as HuggingFace XLM-R
directories. The same input ids give the same logits in transformers and in fairseq (float32, max
abs difference < 1e-5), HF's tokenizer gives fairseq's ids (also for a dict.txt that is not in
sentencepiece order, and for a trimmed one), id2label follows the head's outputs, a tagging model's
word labels come out as trained for every --word-pooling (hf_tagging.tag_words; transformers' own
decoding for `first`), and `xtune-convert hf` of the export gives back the encoder."""

import glob
import json
import logging
import os
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, fairseq_train, make_task, train_args
from test_span_extraction import WINDOWS, qa  # noqa: F401  (module fixture: tiny QA model and data)
from test_tagging import tagging  # noqa: F401  (module fixture: tiny tagging data)
from xtune_fairseq.core.errors import InputError

pytest.importorskip("transformers")
TOL = 1e-5


def hf():
    """transformers as the user imports it: the project's environment has no torchaudio (see
    requirements-fairseq.txt), so nothing is patched."""
    import transformers

    return transformers


def load_hf(cls_name, path):
    """The model in eval mode; fails on any warning transformers logs while loading it (missing,
    unexpected or newly initialised weights) and on non-empty loading info."""
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger = logging.getLogger("transformers")
    handler = Keep(level=logging.WARNING)
    logger.addHandler(handler)
    try:
        model, info = getattr(hf(), cls_name).from_pretrained(path, output_loading_info=True)
    finally:
        logger.removeHandler(handler)
    assert not any(info.values()), info
    assert not records, [r.getMessage() for r in records]
    return model.eval()


def tokenizer(path):
    return hf().AutoTokenizer.from_pretrained(path)


def export(checkpoint, out, *extra):
    from xtune_fairseq.cli.convert import main

    assert main(["to-hf", str(checkpoint), "--out", str(out), *map(str, extra)]) == 0
    return str(out)


def save_checkpoint(task, cfg, path, seed=0):
    """A checkpoint as fairseq-train writes it, of the task's model with every weight moved off its
    initial value (zero biases, unit norms would hide a swapped or dropped tensor)."""
    from omegaconf import OmegaConf

    import xtune_fairseq.fairseq_wiring.register  # noqa: F401

    model = task.build_model(cfg.model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)
    torch.save({"cfg": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), "args": None,
                "model": model.state_dict(), "task_state": task.state_dict(), "optimizer_history": [],
                "extra_state": {}}, path)
    return model.eval()


def batch(task, split, n):
    task.load_dataset(split)
    ds = task.dataset(split)
    return ds, ds.collater([ds[i] for i in range(n)])


def max_diff(a, b):
    return float((a - b).abs().max())


# --- classification: a checkpoint written by fairseq-train, read back with fairseq's own reader ----

@pytest.fixture(scope="module")
def classification(tiny, tmp_path_factory):
    root = tmp_path_factory.mktemp("hf_cls")
    fairseq_train(train_args(tiny, root / "ck", "--max-update", "2"))
    checkpoint = root / "ck" / "checkpoint_best.pt"
    return {"checkpoint": checkpoint, "hf": export(checkpoint, root / "hf"), "root": root}


def test_classification_logits_tokens_and_labels(tiny, classification):
    import xtune_fairseq.fairseq_wiring.register  # noqa: F401
    from xtune_fairseq.fairseq_wiring.checkpoints import load_with_data
    from xtune_fairseq.core.data.prepared import meta_path, read_examples

    model, task = load_with_data(str(classification["checkpoint"]))
    ds, sample = batch(task, "valid", 12)
    tokens = sample["net_input"]["src_tokens"]
    ours = task.predictions(model, sample["net_input"])[0][:, 0]
    theirs = load_hf("AutoModelForSequenceClassification", classification["hf"])(
        input_ids=tokens, attention_mask=tokens.ne(1)).logits
    assert max_diff(ours, theirs) < TOL
    assert ours.std() > 0.01  # the comparison is not between constants

    tok = tokenizer(classification["hf"])
    for i, ex in enumerate(read_examples(meta_path(tiny["bin"], "valid"))[:12]):
        assert tok(ex.texts[0])["input_ids"] == ds[i]["source"].tolist()

    config = json.loads(open(os.path.join(classification["hf"], "config.json")).read())
    assert config["id2label"] == {str(i): name for i, name in enumerate(task.label_names)}
    assert all(task.label_index(name) == i for name, i in config["label2id"].items())
    assert config["layer_norm_eps"] == 1e-5 and config["type_vocab_size"] == 1


def test_a_fresh_interpreter_loads_the_export_with_transformers(classification):
    """What a user runs after `xtune-convert to-hf`: a new Python process, `import transformers`, the
    Auto classes, no patch; the logits of one sentence come out finite with one column per label."""
    code = (
        "import sys, transformers\n"
        "path = sys.argv[1]\n"
        "tok = transformers.AutoTokenizer.from_pretrained(path)\n"
        "model = transformers.AutoModelForSequenceClassification.from_pretrained(path).eval()\n"
        "logits = model(**tok(['a short sentence'], return_tensors='pt')).logits\n"
        "assert logits.isfinite().all(), logits\n"
        "print(tuple(logits.shape), model.config.num_labels)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(classification["hf"])],
                         capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr[-2000:]
    shape, num_labels = out.stdout.strip().rsplit(" ", 1)
    assert shape == f"(1, {num_labels})", out.stdout


def test_id2label_follows_the_label_dictionary_not_the_sorted_names(tiny, classification, tmp_path):
    """fairseq-preprocess orders label/dict.txt by frequency; the head's output i is its line i."""
    data = tmp_path / "bin"
    shutil.copytree(tiny["bin"], data)
    (data / "label" / "dict.txt").write_text("positive 9\nnegative 5\nneutral 3\n")
    out = export(classification["checkpoint"], tmp_path / "hf", "--data", data)
    task, _ = make_task({**tiny, "bin": str(data)})
    label2id = json.loads(open(os.path.join(out, "config.json")).read())["label2id"]
    assert label2id == {name: task.label_index(name) for name in task.label_names} == \
        {"positive": 0, "negative": 1, "neutral": 2}


def test_round_trip_through_xtune_convert_hf_gives_back_the_encoder(tiny, classification, tmp_path):
    from xtune_fairseq.fairseq_wiring.checkpoints import safe_load
    from xtune_fairseq.cli.convert import main

    assert main(["hf", "--hf-dir", classification["hf"], "--out", str(tmp_path / "back")]) == 0
    before = safe_load(str(classification["checkpoint"]))["model"]
    after = safe_load(str(tmp_path / "back" / "model.pt"))["model"]
    encoder = [k for k in before if k.startswith("encoder.sentence_encoder.") and not k.endswith("version")]
    assert encoder and all(k in after for k in encoder)
    for k in encoder:
        if k.endswith("embed_positions.weight"):  # row 0 is never used: positions start at padding_idx + 1
            before[k], after[k] = before[k][1:], after[k][1:]
        assert torch.equal(before[k].float(), after[k]), k
    assert (tmp_path / "back" / "dict.txt").read_text() == open(os.path.join(tiny["bin"], "input0", "dict.txt")).read()


# --- tagging: per-token HF logits against our pooled word logits ----------------------------------

def compound_words_view(tok, task, corpus):
    """One row of words glued from pairs of corpus words (the generated tagging words are mostly a
    single piece each, which would make every pooling the same), as HF's tokenizer encodes it, checked
    against fairseq's word-by-word encoding."""
    import sentencepiece as spm

    plain = open(corpus, encoding="utf-8").read().split()[:24]
    words = [a + b for a, b in zip(plain[::2], plain[1::2])]
    enc = tok(words, is_split_into_words=True)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(task.cfg.data, "sentencepiece.bpe.model"))
    d = task.source_dictionary
    assert enc["input_ids"] == [0] + [d.index(p) for w in words for p in sp.encode(w, out_type=str)] + [2]
    word_of_token = [-1 if w is None else w for w in enc.word_ids()]
    assert max(word_of_token.count(w) for w in range(len(words))) > 1
    return {"src_tokens": torch.tensor([enc["input_ids"]]), "word_of_token": torch.tensor([word_of_token]),
            "words": words}


def test_tagging_logits_at_pooled_positions(tagging, tmp_path):
    from xtune_fairseq.convert.hf_tagging import word_logits
    from xtune_fairseq.core.data.prepared import meta_path, read_tagged_meta

    task, cfg = make_task(tagging, "--word-pooling", "average", task="xtune_sequence_labeling")
    model = save_checkpoint(task, cfg, tmp_path / "ck.pt")
    out = export(tmp_path / "ck.pt", tmp_path / "hf")
    config = json.loads(open(os.path.join(out, "config.json")).read())
    assert config["xtune"]["word_pooling"] == "average" and list(config["label2id"]) == task.label_names
    ds, sample = batch(task, "valid", 10)
    tok = tokenizer(out)
    for i, s in enumerate(read_tagged_meta(meta_path(tagging["bin"], "valid"))[:10]):
        enc = tok(s.words, is_split_into_words=True)
        assert enc["input_ids"] == ds[i]["source"].tolist()
        assert [-1 if w is None else w for w in enc.word_ids()] == ds[i]["word_of_token"].tolist()

    head = load_hf("AutoModelForTokenClassification", out)
    for view in (sample["net_input"], compound_words_view(tok, task, tagging["corpus"])):
        tokens = view["src_tokens"]
        per_token = head(input_ids=tokens, attention_mask=tokens.ne(1)).logits
        for pooling in ("first", "average", "sum"):
            t, _ = make_task(tagging, "--word-pooling", pooling, task="xtune_sequence_labeling")
            ours, valid = t.predictions(model, view)
            theirs = word_logits(per_token, view["word_of_token"], ours.size(1), pooling, head.classifier.bias)
            assert max_diff(ours[valid], theirs[valid]) < TOL, pooling
            if pooling == "first":  # by hand: HF's logits at each word's first subword are ours
                for row, words in enumerate(view["word_of_token"].tolist()):
                    for w in range(max(words) + 1):
                        assert max_diff(ours[row, w], per_token[row, words.index(w)]) < TOL


def first_subword_labels(head, enc, names):
    """transformers' standard token-classification decoding: the argmax at each word's first subword."""
    best = head(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.argmax(-1).tolist()
    out = []
    for row in range(len(best)):
        ids = enc.word_ids(row)
        out.append([names[best[row][ids.index(w)]] for w in range(max(i for i in ids if i is not None) + 1)])
    return out


@pytest.mark.parametrize("pooling", ["sum", "average", "first"])
def test_tagging_export_decodes_as_trained(tagging, pooling, tmp_path):
    """For every --word-pooling, the provided call on the export (hf_tagging.tag_words, hf_word_logits)
    gives fairseq's word labels and logits on every word; transformers' standard decoding does for
    `first` only, and for the others the export says so in one warning line naming the call."""
    from xtune_fairseq.convert.hf_tagging import DECODER, hf_word_logits, tag_words
    from xtune_fairseq.core.data.prepared import meta_path, read_tagged_meta

    task, cfg = make_task(tagging, "--word-pooling", pooling, task="xtune_sequence_labeling")
    model = save_checkpoint(task, cfg, tmp_path / "ck.pt", seed=1)
    out = str(tmp_path / "hf")
    proc = subprocess.run([sys.executable, "-m", "xtune_fairseq.cli.convert", "to-hf", str(tmp_path / "ck.pt"),
                           "--out", out], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.returncode == 0, proc.stderr
    said = proc.stderr.splitlines()
    if pooling == "first":
        assert said == []
    else:  # one line, naming the pooling and the call
        assert len(said) == 1 and said[0].startswith("WARNING "), said
        assert f"--word-pooling {pooling}" in said[0] and DECODER + "(model, tokenizer, sentences)" in said[0]
    xtune = json.loads(open(os.path.join(out, "config.json")).read())["xtune"]
    assert xtune["word_pooling"] == pooling and xtune["first_subword_decoding"] == (pooling == "first")
    assert xtune["decode_words_with"] == DECODER

    tok, head, names = tokenizer(out), load_hf("AutoModelForTokenClassification", out), task.label_names
    _, sample = batch(task, "valid", 10)
    compound = compound_words_view(tok, task, tagging["corpus"])
    sentences = [s.words for s in read_tagged_meta(meta_path(tagging["bin"], "valid"))[:10]]
    agree = total = 0
    all_words, all_expected = [], []
    for words, view in ((sentences, sample["net_input"]), ([compound["words"]], compound)):
        ours, valid = task.predictions(model, view)
        enc = tok(words, is_split_into_words=True, padding=True, return_tensors="pt")
        theirs, has_tokens = hf_word_logits(head, enc)
        assert torch.equal(has_tokens, valid) and valid.sum(-1).tolist() == [len(w) for w in words]
        assert max_diff(ours[valid], theirs[valid]) < TOL
        expected = [[names[t] for t in row[:len(w)]] for row, w in zip(ours.argmax(-1).tolist(), words)]
        assert tag_words(head, tok, words) == expected
        for standard, right in zip(first_subword_labels(head, enc, names), expected):
            agree, total = agree + sum(a == b for a, b in zip(standard, right)), total + len(right)
        all_words, all_expected = all_words + list(words), all_expected + expected

    # a sentence longer than the window loses its last words, as in training: they get None
    cut = {key: torch.cat([compound[key][:, :7], torch.tensor([[end]])], 1)
           for key, end in (("src_tokens", 2), ("word_of_token", -1))}
    ours, valid = task.predictions(model, cut)
    kept, n = int(valid.sum()), len(compound["words"])
    assert 0 < kept < n
    assert tag_words(head, tok, [compound["words"]], max_length=8) == \
        [[names[t] for t in ours[0].argmax(-1).tolist()[:kept]] + [None] * (n - kept)]

    if pooling == "first":  # transformers' own decoding: the argmax by hand, and the pipeline
        assert agree == total
        assert all(name == "O" or name.startswith("B-") for name in names)  # each non-O word: a group of its own
        found = hf().pipeline("token-classification", model=head, tokenizer=tok, aggregation_strategy="first")(
            [" ".join(w) for w in all_words])
        assert any(found) and [[(g["word"], g["entity_group"]) for g in row] for row in found] == \
            [[(w, tag[2:]) for w, tag in zip(ws, tags) if tag != "O"] for ws, tags in zip(all_words, all_expected)]
    else:  # why the warning: on words of several pieces the first piece's label is another
        assert agree < total


def test_tag_words_refuses_a_model_without_word_pooling():
    from types import SimpleNamespace

    from xtune_fairseq.convert.hf_tagging import pooling_of

    assert pooling_of(SimpleNamespace(xtune={"task": "tagging", "word_pooling": "sum"})) == "sum"
    for config in (SimpleNamespace(), SimpleNamespace(xtune={"task": "classification"}),
                   SimpleNamespace(xtune={"word_pooling": "max"})):
        with pytest.raises(InputError, match="expected one of first, average, sum: a tagging model written by"):
            pooling_of(config)


# --- QA: start and end logits ----------------------------------------------------------------------

def test_qa_start_end_logits_and_windows(qa, tmp_path):  # noqa: F811
    task, cfg = make_task(qa, *WINDOWS, task="xtune_span_extraction")
    model = save_checkpoint(task, cfg, tmp_path / "ck.pt")
    out = export(tmp_path / "ck.pt", tmp_path / "hf")
    ds, sample = batch(task, "valid", 8)
    tokens = sample["net_input"]["src_tokens"]
    ours = task.predictions(model, sample["net_input"])[0]
    result = load_hf("AutoModelForQuestionAnswering", out)(input_ids=tokens, attention_mask=tokens.ne(1))
    real = tokens.ne(1)
    assert max_diff(ours[:, 0][real], result.start_logits[real]) < TOL
    assert max_diff(ours[:, 1][real], result.end_logits[real]) < TOL
    assert json.loads(open(os.path.join(out, "config.json")).read())["id2label"] == {"0": "start", "1": "end"}

    # a first window is HF's pair encoding cut to --max-positions (64 here), for questions within
    # --max-query-length (16) and English text (our QA words are whitespace-separated there)
    tok, inner, checked = tokenizer(out), ds.dataset if hasattr(ds, "dataset") else ds, 0
    for row, (i, k) in enumerate(inner.rows):
        ex = inner.examples[i]
        if k == 0 and inner.langs[i] == task.language_index("en") and len(tok(ex.question)["input_ids"]) <= 18:
            enc = tok(ex.question, ex.context, truncation="only_second", max_length=64)
            assert enc["input_ids"] == inner[row]["source"].tolist(), ex.id
            checked += 1
    assert checked >= 3


# --- tokenizer files on their own: dict.txt out of sentencepiece order, trimmed ---------------------

def fairseq_ids(model_dir, text):
    """What xtune-preprocess gives: sentencepiece pieces looked up in the model's dict.txt."""
    import sentencepiece as spm

    from xtune_fairseq.fairseq_wiring.tasks.xtune_base import XtuneTask
    from xtune_fairseq.core.text import TextEncoder

    d = XtuneTask.load_dictionary(os.path.join(model_dir, "dict.txt"))
    sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "sentencepiece.bpe.model"))
    encoder = TextEncoder(d.index, d.bos(), d.eos(), max_positions=10 ** 6)
    return encoder.build([encoder.ids(sp.encode(text, out_type=str))])


def write_tokenizer(model_dir, out):
    from xtune_fairseq.convert.hf_tokenizer import dict_ordered_spm, tokenizer_files
    from xtune_fairseq.core.xlmr_dir import read_dict_pieces

    os.makedirs(out)
    sp_path = os.path.join(model_dir, "sentencepiece.bpe.model")
    pieces = read_dict_pieces(os.path.join(model_dir, "dict.txt"))
    sp_bytes, dropped = dict_ordered_spm(open(sp_path, "rb").read(), pieces, sp_path, "dict.txt")
    open(os.path.join(out, "sentencepiece.bpe.model"), "wb").write(sp_bytes)
    for name, content in tokenizer_files(sp_bytes, 512, sp_path).items():
        json.dump(content, open(os.path.join(out, name), "w", encoding="utf-8"))
    return dropped


def test_tokenizer_of_a_dict_out_of_sentencepiece_order(tiny, tmp_path):
    """Same pieces, another order: fairseq ids change, and the export follows them on every text."""
    model = tmp_path / "model"
    shutil.copytree(tiny["model"], model)
    lines = (model / "dict.txt").read_text(encoding="utf-8").splitlines()
    (model / "dict.txt").write_text("\n".join(lines[::-1]) + "\n", encoding="utf-8")
    assert write_tokenizer(str(model), str(tmp_path / "tok")) == 0
    texts = open(tiny["corpus"], encoding="utf-8").read().splitlines()[:40]
    # the normaliser at work: full-width letters (NFKC), runs of spaces, a character it does not know
    texts += [" ".join(texts[0].split()[:3]).translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}),
              "  " + "   ".join(texts[1].split()) + " ", "ünknown ch@racters ±"]
    fast = tokenizer(str(tmp_path / "tok"))
    os.remove(tmp_path / "tok" / "tokenizer.json")  # transformers' own conversion of the sentencepiece model
    from_spm = tokenizer(str(tmp_path / "tok"))
    for text in texts:
        assert fast(text)["input_ids"] == from_spm(text)["input_ids"] == fairseq_ids(str(model), text), text
    a, b = fairseq_ids(str(model), texts[0]), fairseq_ids(str(model), texts[1])
    assert fast(texts[0], texts[1])["input_ids"] == a + [2] + b[1:]  # <s> a </s> </s> b </s>, --separator-token 2
    assert fast.mask_token_id == len(lines) + 4


def test_tokenizer_of_a_trimmed_model(tiny, tmp_path):
    """Trimmed to German and French text: equal ids there; on English text fairseq's differ only
    where a trimmed-away piece made it <unk> (the export segments into kept pieces)."""
    from xtune_fairseq.convert.trim import trim_model_dir

    rows = [line.split("\t") for line in open(tiny["valid"], encoding="utf-8").read().splitlines()[1:]]
    header = open(tiny["valid"], encoding="utf-8").readline().rstrip("\n").split("\t")
    lang, sent = header.index("lang"), header.index("sentence")
    kept = [r[sent] for r in rows if r[lang] != "en"]
    other = [r[sent] for r in rows if r[lang] == "en"]
    trimmed = trim_model_dir(tiny["model"], str(tmp_path / "trimmed"), kept)
    assert trimmed["pieces_after"] < trimmed["pieces_before"]
    assert write_tokenizer(str(tmp_path / "trimmed"), str(tmp_path / "tok")) == \
        trimmed["pieces_before"] - trimmed["pieces_after"]
    tok = tokenizer(str(tmp_path / "tok"))
    for text in kept:
        assert tok(text)["input_ids"] == fairseq_ids(str(tmp_path / "trimmed"), text)
    differ = 0
    for text in other:
        ours = fairseq_ids(str(tmp_path / "trimmed"), text)
        if tok(text)["input_ids"] != ours:
            differ += 1
            assert 3 in ours, text  # fairseq's <unk>
    assert differ > 0


# --- what is refused ---------------------------------------------------------------------------------

def test_refusals_name_the_problem(tiny, classification, tmp_path):
    from xtune_fairseq.fairseq_wiring.checkpoints import safe_load
    from xtune_fairseq.convert.hf_export import SPAN_HEAD, export_to_hf
    from xtune_fairseq.convert.to_hf import check_arch, fairseq_to_hf
    from xtune_fairseq.convert.hf_tokenizer import dict_ordered_spm
    from xtune_fairseq.fairseq_wiring.tasks import xtune_span_extraction

    assert SPAN_HEAD == xtune_span_extraction.SPAN_HEAD
    state = safe_load(str(classification["checkpoint"]))["model"]
    fairseq_to_hf(state, "classification", "sentence_classification_head", 2)
    with pytest.raises(InputError, match="no place for.*sentence_encoder.layer_norm.weight"):  # pre-LN's final norm
        fairseq_to_hf({**state, "encoder.sentence_encoder.layer_norm.weight": torch.ones(32)}, "classification",
                      "sentence_classification_head", 2)
    with pytest.raises(InputError, match="lacks token_heads.span_head.out_proj.weight"):
        fairseq_to_hf(state, "qa", SPAN_HEAD, 2)
    with pytest.raises(InputError, match="encoder_normalize_before=True has no HF XLM-R equivalent"):
        check_arch({"encoder_normalize_before": True}, "tagging", "ck.pt")
    with pytest.raises(InputError, match="pooler_activation_fn 'relu'"):
        check_arch({"pooler_activation_fn": "relu"}, "classification", "ck.pt")
    sp_path = os.path.join(tiny["model"], "sentencepiece.bpe.model")
    with pytest.raises(InputError, match=r"dict.txt:2: piece 'nowhere' is not in"):
        first = open(os.path.join(tiny["model"], "dict.txt"), encoding="utf-8").readline().rsplit(" ", 1)[0]
        dict_ordered_spm(open(sp_path, "rb").read(), [first, "nowhere"], sp_path, "dict.txt")
    with pytest.raises(InputError, match="pass --data"):
        export_to_hf(str(classification["checkpoint"]), str(tmp_path / "x"), data=str(tmp_path / "gone"))
    with pytest.raises(InputError, match="a masked_lm checkpoint; expected one of xtune_classification"):
        export_to_hf(os.path.join(tiny["model"], "model.pt"), str(tmp_path / "x"))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    proc = subprocess.run([sys.executable, "-m", "xtune_fairseq.cli.convert", "to-hf",
                           str(classification["checkpoint"]), "--out", str(tmp_path / "mine")],
                          capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: --out") and "Traceback" not in proc.stderr
    again = export(classification["checkpoint"], classification["root"] / "hf")  # its own output: replaced
    assert sorted(os.listdir(again)) == sorted(["config.json", "model.safetensors", "sentencepiece.bpe.model",
                                                "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json",
                                                "xtune-hf.json"])


# --- the real model, where the demo left it (never fetched here) -------------------------------------

CACHE = os.environ.get("XTUNE_CACHE", os.path.join(ROOT, "cache"))
REAL_MODELS = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(CACHE, "models", "*", "model.pt")))
REAL_CHECKPOINTS = sorted(glob.glob(os.path.join(ROOT, "work", "**", "checkpoint_best.pt"), recursive=True))
SENTENCES = ["The cat sits on the mat.", "I did not like this film at all.", "Die Katze sitzt auf der Matte.",
             "Je n'ai pas du tout aimé ce film.", "El gato está sentado en la alfombra.", "Кошка сидит на коврике.",
             "猫がマットの上に座っている。", "我一点也不喜欢这部电影。", "  Spaces   and\ttabs, ＦＵＬＬＷＩＤＴＨ ①.  "]


@pytest.mark.slow
@pytest.mark.skipif(not REAL_MODELS, reason="no converted model in the cache: run the demo first")
@pytest.mark.parametrize("model_dir", REAL_MODELS)
def test_real_model_tokenizer_gives_fairseq_ids(model_dir, tmp_path):
    """Full vocabulary: equal ids on every sentence; trimmed: on every sentence fairseq reads without <unk>."""
    dropped = write_tokenizer(model_dir, str(tmp_path / "tok"))
    tok = tokenizer(str(tmp_path / "tok"))
    for text in SENTENCES:
        ours = fairseq_ids(model_dir, text)
        if dropped == 0 or 3 not in ours:
            assert tok(text)["input_ids"] == ours, text


@pytest.mark.slow
@pytest.mark.skipif(not REAL_CHECKPOINTS, reason="no fine-tuned checkpoint under work/: run the demo first")
def test_real_checkpoint_logits(tmp_path):
    """12 layers of hidden size 384: float32 sums in another order, so max abs difference < 1e-4."""
    import xtune_fairseq.fairseq_wiring.register  # noqa: F401
    from xtune_fairseq.fairseq_wiring.checkpoints import load_with_data
    from xtune_fairseq.convert.hf_export import export_to_hf
    from xtune_fairseq.convert.to_hf import KINDS

    try:
        report = export_to_hf(REAL_CHECKPOINTS[0], str(tmp_path / "hf"))
    except InputError as e:
        if "is gone" not in str(e):
            raise
        pytest.skip(str(e))  # its data directory was removed
    model, task = load_with_data(REAL_CHECKPOINTS[0])
    _, sample = batch(task, "valid", 8)
    view, tokens = sample["net_input"], sample["net_input"]["src_tokens"]
    head = load_hf(KINDS[report["kind"]][0], str(tmp_path / "hf"))
    out = head(input_ids=tokens, attention_mask=tokens.ne(1))
    ours = task.predictions(model, view)[0]
    if report["kind"] == "classification":
        assert max_diff(ours[:, 0], out.logits) < 1e-4
    elif report["kind"] == "qa":
        real = tokens.ne(1)
        assert max_diff(ours[:, 0][real], out.start_logits[real]) < 1e-4
        assert max_diff(ours[:, 1][real], out.end_logits[real]) < 1e-4
    else:
        from xtune_fairseq.convert.hf_tagging import word_logits

        valid = task.predictions(model, view)[1]
        theirs = word_logits(out.logits, view["word_of_token"], ours.size(1), task.cfg.word_pooling,
                             head.classifier.bias)
        assert max_diff(ours[valid], theirs[valid]) < 1e-4
