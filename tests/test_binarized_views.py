"""Binarized views (`xtune-preprocess views`, `--binarized-views`): the stored views of the first
epochs are exactly the views the online mode draws (collated batches compared), read without
drawing anything in the training loop; later epochs fall back to online; fairseq-train logs the
same losses; views drawn with other flags or data are refused by name; nothing half-written."""

import json
import os
import shutil

import pytest

from conftest import fairseq_train, make_task, train_args
from test_num_workers import epoch_batches, same, train_log
from test_tagging import tag_task, tagging  # noqa: F401  (module fixture)
from xtune_fairseq.cli.preprocess import main as preprocess_main
from xtune_fairseq.prepare import write_binarized_views
from xtune_fairseq.core.data.views_layout import INFO, check_fingerprint, fingerprint, read_views_info, views_dir
from xtune_fairseq.core.errors import InputError


@pytest.fixture(scope="module")
def cls(tiny, tmp_path_factory):
    """The tiny classification data, copied so that views written here stay here."""
    root = tmp_path_factory.mktemp("binviews")
    shutil.copytree(tiny["bin"], root / "bin")
    return {**tiny, "bin": str(root / "bin"), "root": root}


@pytest.fixture(scope="module")
def pairs(tiny, tmp_path_factory):
    """Sentence-pair data (with translations) binarized with the tiny model."""
    from xtune_fairseq.prepare import preprocess
    from xtune_fairseq.core.synthetic import generate

    root = tmp_path_factory.mktemp("binviews-pairs")
    data = generate(str(root / "data"), seed=4, n_train=150, n_eval=30, pair=True)
    bin_dir = preprocess(tiny["model"], str(root / "bin"), data["train"], data["valid"], data["test"],
                         data["translations"])
    return {**tiny, "bin": bin_dir, "root": root, "dicts": f"{data['dict_de']},{data['dict_fr']}"}


class NoDrawing:
    """A view maker that refuses to draw: proves the stored epochs are read, not sampled."""

    def __init__(self, maker):
        self.maker = maker

    def __getattr__(self, name):
        return getattr(self.maker, name)

    def __call__(self, *args):
        raise AssertionError(f"a {self.maker.kind} view was drawn in the training loop")


def inner(task):
    ds = task.dataset("train")
    return getattr(ds, "dataset", ds)


def assert_stored_equal_online(data, flags, task_name="xtune_classification", first=None, tamper=None):
    """Views of epochs 1-2 stored; epochs 1-2 read (drawing refused), epoch 3 drawn online: every
    collated batch equals the online mode's. Returns the online batches."""
    folder = write_binarized_views(data["bin"], "v", 2, ["--seed", "3", *flags])  # make_task's seed unless set
    if tamper:
        tamper(folder)
    online, _ = make_task(data, *flags, task=task_name)
    stored, _ = make_task(data, *flags, "--binarized-views", "v", task=task_name)
    online.load_dataset("train")
    stored.load_dataset("train")
    rows = inner(stored)
    assert rows.stored is not None and inner(online).stored is None
    makers = rows.augment, rows.partner
    rows.augment, rows.partner = (None if m is None else NoDrawing(m) for m in makers)
    want = epoch_batches(online, 0, epochs=(1, 2, 3), first=first)
    got = epoch_batches(stored, 0, epochs=(1, 2), first=first)
    rows.augment, rows.partner = makers
    got += epoch_batches(stored, 0, epochs=(3,), first=first)
    for epoch, (a, b) in enumerate(zip(want, got), 1):
        assert len(a) == len(b) > 0
        bad = [k for k, (x, y) in enumerate(zip(a, b)) if not same(x, y)]
        assert not bad, f"epoch {epoch}: batches {bad} differ between stored and online views"
    partners = [{int(i): p for b in e for i, p in zip(b["id"], b["partner"]["src_tokens"])} for e in want[:2]]
    common = partners[0].keys() & partners[1].keys()
    assert sum(not same(partners[0][i], partners[1][i]) for i in common) > len(common) // 10  # views change
    return want


@pytest.mark.parametrize("views", [("cs", "ss"), ("mt", "cs"), ("ss", "mt")])
def test_classification_stored_views_equal_online(cls, views):
    a, a_prime = views
    flags = ["--data-augmentation", a, "--r1-augmentation", a_prime, "--code-switch-dicts", cls["dicts"],
             "--subword-alpha", "0.05", "--augmented-ratio", "0.5", "--seed", "5"]
    batches = assert_stored_equal_online(cls, flags)
    assert any(bool(b["is_aug"].any()) for b in batches[0])
    info = json.load(open(os.path.join(cls["bin"], "views", "v", INFO)))
    assert info["roles"] == {"augmented": a, "partner": a_prime} and info["epochs"] == 2
    if "mt" in views:  # translations binarized once, an epoch stores only the choice
        assert info["bytes"]["translations (once)"] > 0 and min(info["bytes"].values()) < 4 * info["rows"] + 200


def test_sentence_pairs_stored_views_equal_online(pairs):
    assert_stored_equal_online(pairs, ["--data-augmentation", "mt", "--r1-augmentation", "ss",
                                       "--subword-ratio", "1.0", "--subword-alpha", "0.05"])


@pytest.mark.parametrize("views", [("mt", "ss"), ("cs", "mt")])
def test_tagging_stored_views_equal_online(tagging, views):  # noqa: F811
    flags = ["--data-augmentation", views[0], "--r1-augmentation", views[1], "--code-switch-dicts", tagging["dicts"],
             "--subword-alpha", "0.05", "--subword-ratio", "0.5"]
    batches = assert_stored_equal_online(tagging, flags, task_name="xtune_sequence_labeling")
    assert "word_of_token" in batches[0][0]["partner"]


def test_the_comparison_catches_views_of_another_epoch(cls):
    """Negative control: epoch 2's views read in epoch 1 (and back) must be seen."""
    def swap(folder):
        for a, b in (("epoch1", "tmp"), ("epoch2", "epoch1"), ("tmp", "epoch2")):
            os.rename(os.path.join(folder, a), os.path.join(folder, b))

    flags = ["--data-augmentation", "cs", "--r1-augmentation", "ss", "--code-switch-dicts", cls["dicts"]]
    with pytest.raises(AssertionError, match="epoch 1: batches .* differ between stored and online views"):
        assert_stored_equal_online(cls, flags, tamper=swap)


def test_xtune_preprocess_replaces_a_data_dir_with_views(cls, tmp_path):
    """views/ is part of a data directory: rewriting the data removes the views drawn from it."""
    from xtune_fairseq.prepare import preprocess

    data = tmp_path / "bin"
    shutil.copytree(cls["bin"], data)
    write_binarized_views(str(data), "x", 1, ["--r1-augmentation", "ss"])
    preprocess(cls["model"], str(data), cls["train"], cls["valid"])
    assert not os.path.exists(data / "views")


def test_fairseq_train_losses_equal_with_binarized_views(cls, tmp_path):
    """Epoch 1 read from the views (in 2 data-loader workers), epoch 2 beyond them, drawn online:
    every update's losses equal the online run's."""
    flags = ["--data-augmentation", "cs", "--r1-augmentation", "cs", "--code-switch-dicts", cls["dicts"],
             "--augmented-ratio", "0.5", "--r1-lambda", "5", "--batch-size", "128", "--max-epoch", "2", "--no-save"]
    write_binarized_views(cls["bin"], "train1", 1, flags + ["--seed", "3"])
    _, out_online = fairseq_train(train_args(cls, tmp_path / "online", *flags))
    _, out_stored = fairseq_train(train_args(cls, tmp_path / "stored", *flags, "--binarized-views", "train1",
                                             "--num-workers", "2"))
    online, stored = train_log(out_online), train_log(out_stored)
    updates = [r for r in online if "loss" in r]
    assert len(updates) == 14 and {r["epoch"] for r in updates} == {1, 2}
    assert all(float(r["r1_loss"]) > 0 for r in updates)
    assert online == stored
    assert out_stored.count("drawing views online from here on") == 1 and "epoch 2:" in out_stored


CS = ["--r1-augmentation", "cs", "--seed", "3"]


@pytest.mark.parametrize("changed,message", [
    (["--code-switch-ratio", "0.5"], "views drawn with --code-switch-ratio 0.3, this run has 0.5"),
    (["--seed", "4"], "views drawn with --seed 3, this run has 4"),
    (["--r1-augmentation", "ss"], "views drawn with --r1-augmentation cs, this run has ss"),
    (["--data-augmentation", "cs"], "views drawn with --data-augmentation none, this run has cs"),
    (["--max-positions", "64"], "views drawn with --max-positions 512, this run has 64"),
])
def test_views_of_other_flags_are_refused(cls, changed, message):
    write_binarized_views(cls["bin"], "cs", 1, CS + ["--code-switch-dicts", cls["dicts"]])
    task, _ = make_task(cls, *CS, "--code-switch-dicts", cls["dicts"], *changed, "--binarized-views", "cs")
    with pytest.raises(InputError, match=message.replace("-", r"\-")):
        task.load_dataset("train")


def test_flags_that_cannot_change_the_views_may_differ(cls):
    write_binarized_views(cls["bin"], "cs", 1, CS + ["--code-switch-dicts", cls["dicts"]])
    task, _ = make_task(cls, *CS, "--code-switch-dicts", cls["dicts"], "--subword-alpha", "0.9", "--noise-std", "0.1",
                        "--binarized-views", "cs")
    task.load_dataset("train")
    assert inner(task).stored is not None


def test_other_dictionary_contents_or_missing_views_are_refused(cls, tmp_path):
    dicts = [shutil.copy(p, tmp_path) for p in cls["dicts"].split(",")]
    write_binarized_views(cls["bin"], "d", 1, CS + ["--code-switch-dicts", ",".join(dicts)])
    with open(dicts[0], "a") as f:
        f.write("zzz yyy\n")
    task, _ = make_task(cls, *CS, "--code-switch-dicts", ",".join(dicts), "--binarized-views", "d")
    with pytest.raises(InputError, match="other --code-switch-dicts"):
        task.load_dataset("train")
    task, _ = make_task(cls, *CS, "--code-switch-dicts", cls["dicts"], "--binarized-views", "nothing-here")
    with pytest.raises(InputError, match=r"views\.json not found: write the views with `xtune-preprocess views"):
        task.load_dataset("train")


def test_fingerprint_names_the_data_file_that_changed(cls):
    settings = {"seed": 1, "data_augmentation": "none", "r1_augmentation": "mt", "max_positions": 512,
                "init_token": 0, "separator_token": None, "code_switch_dicts": ""}
    fp = fingerprint("classification", settings, cls["bin"])
    assert "meta/translations.jsonl" in fp and "--separator-token" not in fp and "--augmented-ratio" not in fp
    check_fingerprint("V", fp, dict(fp))
    with pytest.raises(InputError, match="V: meta/train.jsonl changed since the views were drawn"):
        check_fingerprint("V", {**fp, "meta/train.jsonl": "0"}, fp)


def test_failed_write_leaves_the_old_views_whole(cls, monkeypatch):
    from xtune_fairseq.fairseq_wiring.datasets import binarized_views

    write_binarized_views(cls["bin"], "keep", 1, CS + ["--code-switch-dicts", cls["dicts"]])
    before = sorted(os.listdir(views_dir(cls["bin"], "keep")))

    def fail(dataset, folder, epoch, *rest):
        if epoch == 2:
            raise KeyboardInterrupt
        return write_epoch(dataset, folder, epoch, *rest)

    write_epoch = binarized_views.write_epoch
    monkeypatch.setattr(binarized_views, "write_epoch", fail)
    with pytest.raises(KeyboardInterrupt):
        write_binarized_views(cls["bin"], "keep", 3, CS + ["--code-switch-dicts", cls["dicts"]])
    assert sorted(os.listdir(views_dir(cls["bin"], "keep"))) == before == ["epoch1", INFO]
    assert not [n for n in os.listdir(os.path.join(cls["bin"], "views")) if n.startswith(".")]


def test_workers_write_the_same_files(cls):
    flags = ["--data-augmentation", "ss", "--r1-augmentation", "cs", "--code-switch-dicts", cls["dicts"]]
    write_binarized_views(cls["bin"], "w1", 2, flags)
    write_binarized_views(cls["bin"], "w2", 2, flags, workers=2)
    for epoch in ("epoch1", "epoch2"):
        names = sorted(os.listdir(os.path.join(views_dir(cls["bin"], "w1"), epoch)))
        assert names == ["augmented.bin", "augmented.idx", "partner.bin", "partner.idx"]
        for name in names:
            a, b = (os.path.join(views_dir(cls["bin"], w), epoch, name) for w in ("w1", "w2"))
            assert open(a, "rb").read() == open(b, "rb").read(), name


def test_views_show_progress_per_epoch(cls, monkeypatch, capsys):
    monkeypatch.setenv("XTUNE_PROGRESS_INTERVAL", "0")  # a line at every row: no timing in the test
    assert preprocess_main(["views", cls["bin"], "--name", "progress", "--epochs", "2", "--r1-augmentation", "ss"]) == 0
    rows = read_views_info(views_dir(cls["bin"], "progress"))["rows"]
    err = capsys.readouterr().err.splitlines()
    for epoch in (1, 2):
        assert f"[preprocess] views epoch {epoch}: drew 1/{rows} rows" in err
        assert f"[preprocess] views epoch {epoch}: drew {rows}/{rows} rows" in err


def test_cli_and_refusals(cls, tmp_path, capsys):
    argv = ["views", cls["bin"], "--name", "cli", "--epochs", "1", "--r1-augmentation", "ss", "--lr", "1e-5"]
    assert preprocess_main(argv) == 0
    assert capsys.readouterr().out.strip() == views_dir(cls["bin"], "cli")
    assert preprocess_main(["views", cls["bin"], "--name", "cli", "--epochs", "0"]) == 2
    assert "--epochs 0: expected" in capsys.readouterr().err
    assert preprocess_main(["views", cls["bin"], "--name", "../x", "--epochs", "1"]) == 2
    qa = tmp_path / "qa"
    qa.mkdir()
    (qa / "xtune.json").write_text(json.dumps({"kind": "qa", "labels": ["start", "end"], "languages": ["en"]}))
    assert preprocess_main(["views", str(qa), "--name", "x", "--epochs", "1"]) == 2
    assert "drawn online only" in capsys.readouterr().err
