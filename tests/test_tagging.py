"""Sequence labelling: word alignment, readers, entity F1, tag-preserving views, aligned R1,
and the two-stage pipeline on the tiny model."""

import json

import numpy as np
import pytest
import torch

from conftest import make_task
from xtune_fairseq.core.data.tagged import read_tagged
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.metrics.entities import entities, entity_f1, is_bio, token_accuracy
from xtune_fairseq.core.word_alignment import pool_words, word_of_token


# --- word alignment -------------------------------------------------------------------------

def test_word_of_token_and_truncation():
    pieces = [["▁a"], ["▁b", "c", "d"], ["▁e", "f"]]
    assert word_of_token(pieces, 100) == [-1, 0, 1, 1, 1, 2, 2, -1]
    assert word_of_token(pieces, 5) == [-1, 0, 1, 1, -1]  # closing </s> kept, word 2 lost


def test_pool_words_against_a_loop():
    torch.manual_seed(0)
    hidden = torch.randn(2, 7, 3)
    index = torch.tensor([[-1, 0, 1, 1, 2, -1, -1], [-1, 0, 0, 0, 1, 1, -1]])
    first, valid = pool_words(hidden, index, 3, "first")
    avg, valid2 = pool_words(hidden, index, 3, "average")
    assert valid.tolist() == valid2.tolist() == [[True, True, True], [True, True, False]]
    for r in range(2):
        for w in range(3):
            tokens = [t for t in range(7) if index[r, t] == w]
            if not tokens:
                assert torch.all(first[r, w] == 0) and torch.all(avg[r, w] == 0)
                continue
            assert torch.allclose(first[r, w], hidden[r, tokens[0]])
            assert torch.allclose(avg[r, w], hidden[r, tokens].mean(0), atol=1e-6)


# --- readers --------------------------------------------------------------------------------

def test_readers_conll_and_word_tag(tmp_path):
    conll = tmp_path / "a.conll"
    conll.write_text("The\tDET\ncat\tNOUN\n\nRuns\tVERB\n")
    wt = tmp_path / "b.txt"
    wt.write_text("The/DET cat/NOUN\nw/o/ADP ./PUNC\n")
    a = read_tagged(str(conll), "en")
    b = read_tagged(str(wt), "en")
    assert [s.words for s in a] == [("The", "cat"), ("Runs",)] and a[0].tags == ("DET", "NOUN")
    assert b[1].words == ("w/o", ".") and b[1].tags == ("ADP", "PUNC")  # the last '/' splits


@pytest.mark.parametrize("text,fmt,labels,message", [
    ("The\tDET\ncat\n", "conll", None, ":2: expected 'word<TAB>tag'"),
    ("The\tDET\ncat\tNOUNX\n", "conll", ["DET", "NOUN"], ":2: tag 'NOUNX' is not in the training label set"),
    ("The/DET cat\n", "word_tag", None, ":1: expected 'word/TAG' tokens, got 'cat'"),
    ("\n\n", "auto", None, "empty file"),
])
def test_reader_errors_name_file_and_line(tmp_path, text, fmt, labels, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_tagged(str(path), "de", fmt, labels=labels)
    assert message in str(err.value) and str(path) in str(err.value)


# --- metrics --------------------------------------------------------------------------------

def test_entity_f1_hand_made():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "I-ORG"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "B-ORG", "I-ORG", "O"]]
    assert entities(gold[1]) == {("ORG", 1, 3)}
    assert entities(["I-LOC", "I-LOC", "I-PER"]) == {("LOC", 0, 1), ("PER", 2, 2)}  # conlleval's reading
    # gold: PER(0-1), LOC(3), ORG(1-3); predicted: PER(0-1) right, ORG(3) wrong, ORG(1-2) wrong
    scores = entity_f1(gold, pred)
    assert (scores["gold"], scores["predicted"], scores["correct"]) == (3, 3, 1)
    assert scores["precision"] == pytest.approx(100 / 3) and scores["f1"] == pytest.approx(100 / 3)
    assert entity_f1([["O"]], [["O"]])["f1"] == 0.0
    assert token_accuracy(gold, pred) == pytest.approx(100 * 6 / 8)
    assert is_bio(["O", "B-PER", "I-PER"]) and not is_bio(["NOUN", "VERB"])


# --- views and alignment on the tiny model ---------------------------------------------------

@pytest.fixture(scope="module")
def tagging(tiny, tmp_path_factory):
    from xtune_fairseq.prepare import preprocess_tagging
    from xtune_fairseq.core.synthetic import generate_tagging

    root = tmp_path_factory.mktemp("tagging")
    files = generate_tagging(str(root / "raw"), seed=1)
    bin_dir = preprocess_tagging(tiny["model"], str(root / "bin"), list(files["train"].items()),
                                 list(files["valid"].items()), list(files["test"].items()), files["translations"])
    return {**tiny, "bin": bin_dir, "cls_bin": tiny["bin"], "root": root, "files": files}


def tag_task(tagging, *flags, criterion=False):
    return make_task(tagging, *flags, criterion=criterion, task="xtune_sequence_labeling")


def test_subword_sampling_and_code_switch_keep_words_and_tags(tagging):
    task, _ = tag_task(tagging, "--data-augmentation", "cs", "--code-switch-dicts", tagging["dicts"],
                       "--code-switch-ratio", "1.0", "--r1-augmentation", "ss", "--subword-ratio", "1.0",
                       "--subword-alpha", "0.02")
    task.load_dataset("train")
    inner = task.dataset("train").dataset
    n = len(inner.examples)
    inner.set_epoch(1)
    d = task.source_dictionary
    changed_pieces = switched = 0
    for i in range(20):
        orig, copy = inner[i], inner[n + i]
        words = inner.examples[i].words
        assert torch.equal(orig["target"], copy["target"])  # a switched word keeps its tag
        for item in (orig, copy):
            for ids, wmap in ((item["source"], item["word_of_token"]), (item["partner"], item["partner_word_of_token"])):
                assert int(wmap.max()) + 1 == len(words)  # every word keeps its place
                assert ids.numel() == wmap.numel()
        # subword sampling: same words, pieces re-drawn
        surface = "".join(d[t] for t in orig["partner"][1:-1].tolist()).replace("▁", " ").split()
        assert surface == list(words)
        changed_pieces += not torch.equal(orig["source"], orig["partner"])
        switched += not torch.equal(orig["source"], copy["source"])
    assert changed_pieces > 10 and switched > 10


def test_multi_word_switch_is_an_error_not_a_misalignment(tagging):
    from xtune_fairseq.core.augment.code_switch import CodeSwitcher

    task, _ = tag_task(tagging, "--r1-augmentation", "cs", "--code-switch-dicts", tagging["dicts"])
    task.load_dataset("train")
    inner = task.dataset("train").dataset
    example = inner.examples[0]
    maker = inner.partner
    maker.switcher = CodeSwitcher({"xx": {example.words[0].lower(): ["two words"]}}, ratio=1.0)
    with pytest.raises(InputError, match="multi-word"):
        maker(example, inner.originals[0], np.random.default_rng(0))

    class Short:  # a segmenter that loses a word
        def segment(self, words, rng):
            return [["▁" + w] for w in words[:-1]], [False] * (len(words) - 1)

    maker.sampler = Short()
    with pytest.raises(InputError, match="example x: a view has 2 words where the original has 3"):
        maker.encode_words(["a", "b", "c"], None, "x")


def test_r1_is_aligned_word_by_word(tagging):
    """The criterion's R1 equals the per-word symmetric KL of the two views computed apart."""
    from xtune_fairseq.core.consistency import symmetric_kl

    task, cfg, crit = tag_task(tagging, "--r1-augmentation", "ss", "--subword-ratio", "1.0", "--subword-alpha", "0.02",
                               "--r1-lambda", "5", "--kl-reduction", "batchmean", criterion=True)
    task.load_dataset("train")
    model = task.build_model(cfg.model).eval()  # dropout off: the two paths see the same network
    model.train = lambda mode=True: model  # keep eval-mode numerics while the criterion asks for training
    model.training = True
    inner = task.dataset("train").dataset
    inner.set_epoch(1)
    batch = inner.collater([inner[i] for i in range(6)])
    _, size, log = crit(model, batch)
    with torch.no_grad():
        la, va = task.predictions(model, batch["net_input"])
        lb, vb = task.predictions(model, batch["partner"])
    expected = 0.0
    for r in range(6):
        n = len(inner.examples[r].words)
        expected += float(symmetric_kl(la[r, :n], lb[r, :n]).sum())
    assert size == sum(len(inner.examples[r].words) for r in range(6))
    assert float(log["r1_loss"]) == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert float(log["r1_loss"]) > 0


def tag_args(tagging, save_dir, *extra):
    from conftest import train_args

    return train_args(tagging, str(save_dir), *extra, task="xtune_sequence_labeling")


def test_teacher_for_another_kind_is_refused(tagging, tmp_path):
    from conftest import fairseq_train, train_args

    fairseq_train(train_args({**tagging, "bin": tagging["cls_bin"]}, str(tmp_path / "cls"), "--max-update", "1"))
    _, out = fairseq_train(tag_args(tagging, tmp_path / "s2", "--r2-lambda", "1", "--teacher-path",
                                    tmp_path / "cls" / "checkpoint_last.pt"), check=False)
    assert "error: " in out and "teacher has no head 'token_heads.token_classification_head'" in out
    assert "Traceback" not in out


def test_pipeline_pos_recipe_with_translations(tagging, tmp_path):
    """Stage 1 (R1 with subword sampling), stage 2 on D + MT(D) (translations untagged: R1/R2 only)."""
    from test_end_to_end import run_cli

    out = tmp_path / "run"
    proc = run_cli("xtune_fairseq.cli.pipeline", "--model-dir", tagging["model"], "--data", tagging["bin"],
                   "--out", out, "--recipe", "pos-translate-train", "--lr", "1e-3", "--epochs", "1",
                   "--stage1-epochs", "2", "--cpu",
                   "--log-interval", "5", "--metric", "accuracy")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((out / "results.json").read_text())
    for r in results.values():
        assert set(r["per_language"]) == {"en", "de", "fr"} and r["metric"] == "token accuracy"
        assert all(0 < v <= 100 for v in r["per_language"].values())
    log1, log2 = (out / "stage1" / "train.log").read_text(), (out / "stage2" / "train.log").read_text()
    cmd1, cmd2 = (out / "stage1" / "command.txt").read_text(), (out / "stage2" / "command.txt").read_text()
    assert "--word-pooling sum" in cmd1 and "--max-epoch 2" in cmd1 and "--max-epoch 1" in cmd2
    assert "loaded train: 300 sentences, 600 rows (300 augmented)" in log2
    r1 = [float(x.split("r1_loss=")[1].split(",")[0]) for x in log1.splitlines() if "r1_loss=" in x]
    r2 = [float(x.split("r2_loss=")[1].split(",")[0]) for x in log2.splitlines() if "r2_loss=" in x]
    assert r1 and min(r1) > 0 and r2 and min(r2) > 0
    f1 = run_cli("xtune_fairseq.cli.evaluate", "--checkpoint", out / "stage2" / "checkpoint_best.pt",
                 "--data", tagging["bin"], "--metric", "f1")
    assert f1.returncode == 0 and "entity F1 per language" in f1.stdout, f1.stdout + f1.stderr


def test_lang_path_lists_and_data_kinds_are_checked(tagging, tmp_path):
    from conftest import fairseq_train, train_args
    from xtune_fairseq.cli.common import parse_lang_paths

    assert parse_lang_paths("en:a.conll,de:b.txt", "--valid") == [("en", "a.conll"), ("de", "b.txt")]
    with pytest.raises(InputError, match=r"--train 'a.conll': expected LANG:PATH\[,LANG:PATH...\]"):
        parse_lang_paths("a.conll", "--train")
    _, out = fairseq_train(train_args(tagging, str(tmp_path / "c")), check=False)  # tagging data, classification task
    assert "holds tagging data (xtune.json); --task xtune_sequence_labeling reads it" in out and "Traceback" not in out
    _, out = fairseq_train(tag_args({**tagging, "bin": tagging["cls_bin"]}, tmp_path / "t"), check=False)
    assert "holds classification data (xtune.json); --task xtune_classification reads it" in out
