"""Span extraction (QA) wired into fairseq: preprocessing, answer-preserving views, window
merging, span R1 through the criterion, and the two-stage pipeline on a tiny model."""

import json
import os

import numpy as np
import pytest
import torch

from conftest import make_task
from xtune_fairseq.core.augment.gaussian_noise import noise_rows
from xtune_fairseq.core.consistency import kl_from_log_probs
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.qa.consistency_masks import bucketed_log_probs, positions_mask, span_r1
from xtune_fairseq.core.qa.windows import split_words

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "qa")
WINDOWS = ("--max-positions", "64", "--doc-stride", "32", "--max-query-length", "16")
DICTS = {
    # answer words (marsh, sheep, farming, lantern, walk) are listed too: they must never switch
    "de": "lighthouse Leuchtturm\nvillage Dorf\nmarsh Sumpf\nsheep Schaf\nfarming Landwirtschaft\nlantern Laterne\n"
          "walk Spaziergang\nmill Mühle\npaper Papier\nchurch Kirche\nthe der\nthe die\nwas war\nbuilt gebaut\n"
          "lamp Lampe\nriver Fluss\nvalley Tal\nstonemason\tStein metz\nkeeper Wärter\n",
    "zh": "lighthouse 灯塔\nvillage 村庄\npaper 纸\nmill 磨坊\nchurch 教堂\nlamp 灯\nthe 这\nmarsh 沼泽\nsheep 羊\n",
}


def fixture(name):
    return os.path.join(FIXTURES, f"{name}.json")


EVAL = [(lang, fixture(lang)) for lang in ("en", "de", "zh")]


@pytest.fixture(scope="module")
def qa(tmp_path_factory):
    """A tiny model whose sentencepiece knows the fixtures' characters, the fixtures preprocessed
    (English train, dev/test in en, de, zh, German translations of the training questions)."""
    from xtune_fairseq.prepare import build_tiny_model, preprocess_qa

    root = tmp_path_factory.mktemp("qa")
    lines = []
    for name in ("en", "de", "zh", "train-de"):
        for article in json.load(open(fixture(name), encoding="utf-8"))["data"]:
            for para in article["paragraphs"]:
                lines += [para["context"]] + [q["question"] for q in para["qas"]]
    dicts = []
    for lang, text in DICTS.items():
        (root / f"en-{lang}.txt").write_text(text, encoding="utf-8")
        dicts.append(str(root / f"en-{lang}.txt"))
        lines += text.split("\n")
    (root / "corpus.txt").write_text("\n".join(lines * 3) + "\n", encoding="utf-8")
    model = build_tiny_model(str(root / "model"), str(root / "corpus.txt"), vocab_size=400)
    bin_dir = preprocess_qa(model, str(root / "bin"), [("en", fixture("en"))], EVAL, EVAL,
                            [("de", fixture("train-de"))])
    return {"root": root, "model": model, "bin": bin_dir, "dicts": ",".join(dicts)}


def qa_task(qa, *flags, criterion=False):
    return make_task(qa, *WINDOWS, *flags, criterion=criterion, task="xtune_span_extraction")


def train_rows(task, epoch=1):
    task.load_dataset("train")
    inner = task.dataset("train").dataset
    inner.set_epoch(epoch)
    return inner


def surface(task, ids):
    return "".join(task.source_dictionary[t] for t in ids).replace("\u2581", "")


def nospace(text):
    return "".join(text.split())


# --- preprocessing -------------------------------------------------------------------------

def test_preprocess_layout(qa):
    info = json.loads(open(os.path.join(qa["bin"], "xtune.json")).read())
    assert info["kind"] == "qa" and info["labels"] == ["start", "end"] and info["languages"] == ["de", "en", "zh"]
    count = {s: sum(1 for _ in open(os.path.join(qa["bin"], "meta", f"{s}.jsonl")))
             for s in ("train", "valid", "test", "translations")}
    assert count == {"train": 8, "valid": 18, "test": 18, "translations": 8}
    row = json.loads(open(os.path.join(qa["bin"], "meta", "valid.jsonl"), encoding="utf-8").readlines()[1])
    assert row["id"] == "en-2" and row["answers"] == [["38 metres", 100], ["38 metres tall", 100]]
    assert open(os.path.join(qa["bin"], "label", "dict.txt")).read() == "start 1\nend 1\n"


def test_preprocess_errors_name_the_file(qa, tmp_path, capsys):
    from xtune_fairseq.cli.preprocess import main

    bad = tmp_path / "train-es.json"
    bad.write_text(json.dumps({"data": [{"paragraphs": [{"context": "Hola Ada.", "qas": [
        {"id": "nope-1", "question": "¿Quién?", "answers": [{"text": "Ada", "answer_start": 5}]}]}]}]}))
    argv = ["--kind", "qa", "--model-dir", qa["model"], "--train", f"en:{fixture('en')}",
            "--dest", str(tmp_path / "out")]
    assert main(argv + ["--translations", f"es:{bad}"]) == 2
    assert f"{bad}: translated question id 'nope-1' matches no training question" in capsys.readouterr().err
    assert main(argv + ["--valid", f"en:{fixture('en')},en:{fixture('en')}"]) == 2
    assert "question id 'en-1' also in" in capsys.readouterr().err
    assert main(argv[:5] + ["en.json", "--dest", str(tmp_path / "out")]) == 2
    assert "expected LANG:PATH" in capsys.readouterr().err
    # a translation's language code is one of the run's codes, spelled once
    assert main(argv + ["--valid", f"de:{fixture('de')}", "--translations", f"DE:{fixture('train-de')}"]) == 2
    assert "language 'DE' differs only in case from 'de'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# --- views keep the gold span --------------------------------------------------------------

@pytest.mark.parametrize("kind", ["cs", "ss"])
def test_gold_span_still_decodes_to_the_answer_in_augmented_views(qa, kind):
    """Every augmented copy's start/end tokens spell the answer (pieces may reach to the ends of
    the answer's words); code-switch leaves the answer's words alone, subword sampling re-cuts them."""
    task, _ = qa_task(qa, "--data-augmentation", kind, "--code-switch-dicts", qa["dicts"], "--code-switch-ratio", "1.0",
                      "--subword-ratio", "1.0", "--subword-alpha", "0.02")
    d = task.source_dictionary
    checked = changed = recut = 0
    for epoch in (1, 2):
        inner = train_rows(task, epoch)
        n = len(inner.rows)
        assert len(inner) == 2 * n and n > len(inner.examples)  # long contexts make several windows
        for index in range(n, 2 * n):
            item = inner[index]
            i, k = inner.rows[inner.source_index(index)]
            example = inner.examples[i]
            text, start = example.answers[0]
            end = start + len(text)
            words = "".join(w.text for w in split_words(example.context) if w.start < end and w.end > start)
            ids = item["source"].tolist()
            s, e = item["target"].tolist()
            assert 0 <= s <= e < len(ids)
            if s == 0:  # the answer is not in this window
                continue
            got = surface(task, ids[s : e + 1])
            assert nospace(text) in got and got in nospace(words), (got, text)
            checked += 1
            orig = inner[inner.source_index(index)]
            changed += ids != orig["source"].tolist()
            s0, e0 = orig["target"].tolist()
            recut += s0 > 0 and ids[s : e + 1] != orig["source"][s0 : e0 + 1].tolist()
            assert d.unk() not in ids[s : e + 1]
    assert checked >= 10 and changed >= checked // 2
    assert recut == 0 if kind == "cs" else recut >= 3


def test_code_switch_protects_answer_words_and_switches_others(qa):
    task, _ = qa_task(qa, "--code-switch-dicts", qa["dicts"], "--code-switch-ratio", "1.0")
    maker = task.qa_views("cs")
    inner = train_rows(task)
    protected = switched = 0
    for i, example in enumerate(inner.examples):
        view = maker(example, inner.originals[i], np.random.default_rng(i))
        text, start = example.answers[0]
        for w, word in enumerate(split_words(example.context)):
            if word.start < start + len(text) and word.end > start:
                assert not view.changed[w]
                protected += word.text.strip(".,").lower() in ("marsh", "lantern", "walk", "sheep", "farming")
            switched += view.changed[w]
        tokens = [t for w in view.windows for t in w.tokens]
        assert "\u2581lighthouse" not in tokens  # every listed word is switched at ratio 1
    assert protected >= 4 and switched >= 20  # the dictionaries would have switched these answer words


def test_translated_rows_carry_their_own_answer_and_no_cross_lingual_r1(qa):
    task, _ = qa_task(qa, "--data-augmentation", "mt", "--r1-augmentation", "ss", "--subword-ratio", "0.5")
    inner = train_rows(task)
    translations = {ex_id: exs[0] for ex_id, exs in task.read_translations().items()}
    n, answered = len(inner.rows), 0
    for index in range(n, 2 * n):
        item = inner[index]
        example = inner.examples[inner.rows[inner.source_index(index)][0]]
        german = translations[example.id]
        ids, partner = item["source"].tolist(), item["partner"].tolist()
        s, e = item["target"].tolist()
        if s:
            assert nospace(german.answers[0][0]) in surface(task, ids[s : e + 1])
            answered += 1
        # R1 partner: a subword-sampled view of the translation itself, aligned token by token
        a, b = item["aligned"]
        assert a[0] == b[0] == 0 and len(a) > 5
        assert [ids[x] for x in a] == [partner[x] for x in b]
        question = nospace(german.question)[:8]
        assert question in surface(task, ids) and question in surface(task, partner)
    assert answered >= 8
    with pytest.raises(InputError, match="no common positions"):
        qa_task(qa, "--r1-augmentation", "mt")


def test_gaussian_noise_partner_aligns_every_position(qa):
    task, _ = qa_task(qa, "--r1-augmentation", "gn")
    inner = train_rows(task)
    for index in range(6):
        item = inner[index]
        assert torch.equal(item["source"], item["partner"])
        assert item["aligned"] == (list(range(len(item["source"]))),) * 2
    batch = inner.collater([inner[i] for i in range(6)])
    assert noise_rows(task.cfg, batch["is_aug"], with_partners=True).tolist() == [False] * 6 + [True] * 6
    assert batch["partner"]["aligned_mask"].sum() == batch["ntokens"]


# --- span R1 through the criterion ----------------------------------------------------------

def r1_setup(qa, kind):
    task, cfg, crit = qa_task(qa, "--r1-augmentation", kind, "--code-switch-dicts", qa["dicts"],
                              "--code-switch-ratio", "0.5", "--subword-ratio", "0.5", "--r1-lambda", "5",
                              "--kl-reduction", "batchmean", criterion=True)
    inner = train_rows(task)
    model = task.build_model(cfg.model).eval()  # dropout off: the two paths see the same network
    model.train = lambda mode=True: model  # keep eval-mode numerics while the criterion asks for training
    model.training = True
    items = [inner[i] for i in range(0, len(inner), 3)][:8]
    return task, crit, model, items, inner.collater(items), inner


@pytest.mark.parametrize("kind", ["ss", "cs"])
def test_r1_equals_span_r1_on_separately_computed_windows(qa, kind):
    """The criterion's R1 (both views in one padded batch) equals span_r1 on each row's two windows
    run through the model on their own, restricted to the positions holding the same token."""
    task, crit, model, items, batch, _ = r1_setup(qa, kind)
    _, size, log = crit(model, batch)
    assert size == 2 * len(items)
    expected, partial = 0.0, 0
    with torch.no_grad():
        for item in items:
            la = task.predictions(model, {"src_tokens": item["source"][None]})[0]
            lb = task.predictions(model, {"src_tokens": item["partner"][None]})[0]
            a, b = (torch.tensor(x) for x in item["aligned"])
            assert [item["source"][x] for x in a] == [item["partner"][x] for x in b]  # same token, same text
            keep_a, keep_b = positions_mask(a, la.size(-1))[None], positions_mask(b, lb.size(-1))[None]
            partial += len(a) < min(la.size(-1), lb.size(-1))  # changed words: mass in the rest bucket
            expected += float(span_r1(la[:, 0], la[:, 1], lb[:, 0], lb[:, 1], keep_a, keep_b).sum())
    assert partial >= len(items) // 2
    assert float(log["r1_loss"]) == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert float(log["r1_loss"]) > 0


def test_r1_stops_gradients_into_the_targets(qa):
    task, crit, model, items, batch, _ = r1_setup(qa, "ss")
    rows = len(items)
    from xtune_fairseq.fairseq_wiring.criterions.xtune_consistency import _cat_views

    with torch.no_grad():  # both views in one batch of one width, as the criterion runs them
        view = _cat_views(batch["net_input"], batch["partner"], task.source_dictionary.pad())
        logits, valid = task.predictions(model, view)
    width = logits.size(-1)
    pad = task.source_dictionary.pad()

    def masks(tokens, positions):
        keep = torch.stack([positions_mask(torch.tensor(p), width) for p in positions])
        return keep, torch.nn.functional.pad(tokens.eq(pad), (0, width - tokens.size(1)), value=True)

    keep_a, pad_a = masks(batch["net_input"]["src_tokens"], [it["aligned"][0] for it in items])
    keep_b, pad_b = masks(batch["partner"]["src_tokens"], [it["aligned"][1] for it in items])

    def grads(stop):
        a, b = logits[:rows].clone().requires_grad_(), logits[rows:].clone().requires_grad_()
        task.r1(a, b, valid[:rows], valid[rows:], batch, stop_gradient=stop)[0].backward()
        return a.grad, b.grad

    ga, gb = grads(True)
    # with stop-gradient each side only learns towards the other's (constant) distribution
    ref_a, ref_b = logits[:rows].clone().requires_grad_(), logits[rows:].clone().requires_grad_()
    for item in (0, 1):
        pa = bucketed_log_probs(ref_a[:, item], keep_a, pad_a)
        pb = bucketed_log_probs(ref_b[:, item], keep_b, pad_b)
        (kl_from_log_probs(pb.detach(), pa) + kl_from_log_probs(pa.detach(), pb)).sum().backward()
    assert torch.allclose(ga, ref_a.grad, atol=1e-6) and torch.allclose(gb, ref_b.grad, atol=1e-6)
    assert ga.abs().sum() > 0 and ga[pad_a.unsqueeze(1).expand_as(ga)].abs().sum() == 0
    assert not torch.allclose(grads(False)[0], ga, atol=1e-5)


def test_r2_when_partners_are_longer_than_every_input(qa):
    """R2's teacher runs on the input view alone: its logits must have the width of the student's
    input rows, which share one padded batch with the (here longer) partner windows."""
    task, crit, model, _, _, inner = r1_setup(qa, "ss")
    items = sorted((inner[i] for i in range(len(inner))), key=lambda it: len(it["source"]))[:4]
    assert max(len(it["partner"]) for it in items) > max(len(it["source"]) for it in items)
    batch = inner.collater(items)
    assert batch["net_input"]["src_tokens"].shape == batch["partner"]["src_tokens"].shape

    class Teacher:  # the student plays the stage-1 model: R2 must then vanish
        def predictions(self, view, embedding_noise=None, like=None):
            assert embedding_noise is None  # subword sampling: no GN rows
            with torch.no_grad():
                return task.predictions(model, view)[0]

    from xtune_fairseq.fairseq_wiring import teacher

    crit._teacher, crit.cfg.r2_lambda = teacher.Teacher(Teacher(), crit.padding_idx), 1.0
    loss, _, log = crit(model, batch)
    assert torch.isfinite(loss) and float(log["r1_loss"]) > 0
    assert float(log["r2_loss"]) == pytest.approx(0.0, abs=1e-5)


# --- evaluation: windows merged per question ------------------------------------------------

def test_windows_merge_into_gold_answers_on_long_contexts(qa):
    """Oracle logits on the gold tokens, plus a higher decoy on tokens whose best window is another
    one: merging over windows (max context, n-best) recovers every gold answer."""
    from xtune_fairseq.evaluation import qa_scores, score

    task, _ = qa_task(qa)
    task.load_dataset("valid")
    inner = task.dataset("valid").dataset
    g = np.random.default_rng(0)
    logits_of_row, decoys = {}, 0
    for row in range(len(inner.rows)):
        window = inner.window(row)
        logits = g.normal(0, 0.1, (2, len(window.tokens) + 3))  # longer rows: padding is ignored
        if window.start_position:
            logits[0, window.start_position] = logits[1, window.end_position] = 10.0
        off = [t for t, (c, m) in enumerate(zip(window.token_to_char, window.max_context)) if c is not None and not m]
        if off:
            logits[0, off[len(off) // 2]] = 50.0
            decoys += 1
        logits_of_row[row] = logits
    windows = {}
    for i, _ in inner.rows:
        windows[i] = windows.get(i, 0) + 1
    assert max(windows.values()) >= 4 and decoys >= 10
    answers = inner.answers(logits_of_row, task.cfg.n_best_size, task.cfg.max_answer_length)
    langs = [ex.lang for ex in inner.examples]
    assert answers == [ex.answers[0][0] for ex in inner.examples]
    f1, name = score(task, langs, answers, list(inner.examples), "squad")
    assert f1 == {"de": 100.0, "en": 100.0, "zh": 100.0} and name == "F1 (SQuAD v1.1)"
    em = qa_scores(langs, answers, list(inner.examples), "mlqa")
    assert all(s["exact_match"] == 100.0 for s in em.values())
    with pytest.raises(InputError, match="QA is scored with F1"):
        score(task, langs, answers, list(inner.examples), "accuracy")


# --- the whole recipe -----------------------------------------------------------------------

def test_pipeline_xquad_recipe_end_to_end(qa, tmp_path):
    """xtune-preprocess --kind qa, stage 1 with R1 on code-switched views, stage 2 on D + SS(D) with
    R1 on SS views and R2 against the stage-1 teacher, F1/EM per language; then xtune-evaluate
    with MLQA normalisation and predictions per language."""
    from test_end_to_end import run_cli

    data = tmp_path / "bin"
    pre = run_cli("xtune_fairseq.cli.preprocess", "--kind", "qa", "--model-dir", qa["model"],
                  "--train", f"en:{fixture('en')}", "--valid", ",".join(f"{l}:{p}" for l, p in EVAL),
                  "--test", ",".join(f"{l}:{p}" for l, p in EVAL), "--dest", data)
    assert pre.returncode == 0, pre.stderr
    out = tmp_path / "run"
    proc = run_cli("xtune_fairseq.cli.pipeline", "--model-dir", qa["model"], "--data", data, "--out", out,
                   "--recipe", "xquad", "--lr", "1e-3", "--epochs", "2", "--batch-size", "8", "--cpu",
                   "--max-positions", "64", "--doc-stride", "32", "--max-query-length", "16",
                   "--code-switch-dicts", qa["dicts"], "--log-interval", "1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"stage1", "stage2"}
    for r in results.values():
        assert r["metric"] == "F1 (SQuAD v1.1)" and set(r["per_language"]) == {"en", "de", "zh"}
        assert set(r["exact_match"]["per_language"]) == {"en", "de", "zh"}
        for value in list(r["per_language"].values()) + list(r["exact_match"]["per_language"].values()):
            assert 0.0 <= value <= 100.0
        assert r["average"] == pytest.approx(sum(r["per_language"].values()) / 3)
    assert "exact match per language" in (out / "results.md").read_text()
    cmd1, cmd2 = (out / "stage1" / "command.txt").read_text(), (out / "stage2" / "command.txt").read_text()
    assert "--task xtune_span_extraction" in cmd1 and "--r1-augmentation cs" in cmd1 and "--doc-stride 32" in cmd1
    for flag in ("--data-augmentation ss", "--r1-augmentation ss", "--r2-lambda 5.0", "--teacher-path", "--lr 0.001"):
        assert flag in cmd2
    log1, log2 = (out / "stage1" / "train.log").read_text(), (out / "stage2" / "train.log").read_text()
    windows = int(log1.split("loaded train: 8 questions, ")[1].split(" windows")[0])
    assert windows > 8 and f"{windows} windows, {2 * windows} rows ({windows} augmented)" in log2
    r1 = [float(x.split("r1_loss=")[1].split(",")[0].split()[0]) for x in log1.splitlines() if "r1_loss=" in x]
    r2 = [float(x.split("r2_loss=")[1].split(",")[0].split()[0]) for x in log2.splitlines() if "r2_loss=" in x]
    assert r1 and max(r1) > 0 and r2 and max(r2) > 0

    preds = tmp_path / "preds"
    ev = run_cli("xtune_fairseq.cli.evaluate", "--checkpoint", out / "stage2" / "checkpoint_best.pt",
                 "--data", data, "--metric", "mlqa", "--predictions-dir", preds, "--json", tmp_path / "r.json")
    assert ev.returncode == 0, ev.stderr[-3000:]
    assert "F1 (MLQA) per language" in ev.stdout and "exact match per language" in ev.stdout
    answers = json.loads((preds / "stage2.zh.json").read_text(encoding="utf-8"))
    assert sorted(answers) == [f"zh-{i}" for i in range(1, 6)] and all(isinstance(a, str) for a in answers.values())
    names = ["stage2.de.json", "stage2.en.json", "stage2.zh.json"]  # each with xtune-evaluate's hidden marker
    assert sorted(os.listdir(preds)) == sorted(names + [f".{n}.xtune" for n in names])
