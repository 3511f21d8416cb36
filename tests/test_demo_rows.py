"""The demo's row tables: shared runs train once, R2 rows get their teacher's stage 1, finished runs
are reused, and a copied study without checkpoints retrains only the teacher's stage 1."""

import json
import os

from xtune_fairseq.cli import demo as demo_cli
from xtune_fairseq import pipeline
from xtune_fairseq.study import demo, sentiment
from xtune_fairseq.study import runs as demo_runs


def fake_pipeline(monkeypatch, calls):
    def parse(argv):
        a = dict(zip(argv[::2], argv[1::2]))
        return a

    def run(a):
        out, stages = a["--out"], a["--stages"].split(",")
        calls.append((os.path.basename(out), a["--stages"]))
        results = {}
        for s in stages:
            os.makedirs(os.path.join(out, f"stage{s}"), exist_ok=True)
            open(os.path.join(out, f"stage{s}", "checkpoint_best.pt"), "w").close()
            results[f"stage{s}"] = {"row": os.path.basename(out), "stage": s}
        with open(os.path.join(out, pipeline.results_stem(a["--split"]) + ".json"), "w") as f:
            json.dump(results, f)
        return results

    monkeypatch.setattr(pipeline, "parse_flags", parse)  # results_stem stays the real one
    monkeypatch.setattr(pipeline, "run_pipeline", run)


def test_rows_share_runs_and_teachers(tmp_path, monkeypatch):
    calls = []
    fake_pipeline(monkeypatch, calls)
    rows = sentiment.sentiment_rows()
    names = sentiment.ROW_SETS["ablation"]
    out = str(tmp_path)
    results = demo_runs.run_rows(rows, names, [], out, seed=3)
    assert calls == [("baseline-s3", "1"), ("data-aug-cs-s3", "2"), ("xtune-s3", "1,2"), ("r2-only-s3", "2")]
    assert results["r1-only"] == {"row": "xtune-s3", "stage": "1"} and results["xtune"]["stage"] == "2"
    assert os.readlink(tmp_path / "r2-only-s3" / "stage1") == os.path.join("..", "baseline-s3", "stage1")

    calls.clear()  # everything finished: nothing runs again
    assert demo_runs.run_rows(rows, names, [], out, seed=3) == results and calls == []

    # a copied study: results without checkpoints, R2 only unfinished -> its teacher's stage 1 again
    os.remove(tmp_path / "r2-only-s3" / "results.json")
    os.remove(tmp_path / "baseline-s3" / "stage1" / "checkpoint_best.pt")
    (tmp_path / "baseline-s3" / "results.json").write_text('{"stage1": {"row": "kept"}}')
    assert demo_runs.run_rows(rows, names, [], out, seed=3)["baseline"] == {"row": "kept"}
    assert calls == [("baseline-s3", "1"), ("r2-only-s3", "2")]


def test_augmentation_rows_compare_data_aug_with_r1_for_each_augmentation():
    rows = sentiment.sentiment_rows()
    for row in rows.values():
        pipeline.parse_flags(["--model-dir", "m", "--data", "d", "--out", "o", *sentiment.SETTINGS["real"], *row.flags])
    for aug in ("ss", "gn", "cs", "mt"):
        data_aug, r1 = rows[f"data-aug-{aug}"], rows[f"r1-{aug}"]
        assert data_aug.flags[data_aug.flags.index("--a") + 1] == aug and "--lambda1" in data_aug.flags
        assert data_aug.stages == "2" and data_aug.key == "stage2"
    assert rows["r1-cs"] is rows["r1-only"] and rows["data-aug"] is rows["data-aug-cs"]
    assert rows["r1-ss"].stages == "1" and rows["r1-ss"].flags[-1] == "ss"  # R1 alone: stage 1 with A* = SS
    assert rows["r1-mt"].stages == "2" and "--lambda2" in rows["r1-mt"].flags  # MT: D + MT(D), R1 between pairs


def test_budget_rows_give_r1_data_augs_number_of_updates(tmp_path, monkeypatch):
    rows = sentiment.sentiment_rows(epochs=3)
    for aug in ("ss", "gn", "cs"):
        r1, equal = rows[f"r1-{aug}"], rows[f"r1-{aug}-equal-updates"]
        assert equal.flags == r1.flags + ["--epochs", "6"] and (equal.stages, equal.key) == ("1", "stage1")
    assert rows["baseline-equal-updates"].flags == ["--recipe", "baseline", "--epochs", "6"]
    calls = []
    fake_pipeline(monkeypatch, calls)
    demo_runs.run_rows(rows, sentiment.ROW_SETS["budget"], ["--epochs", "3"], str(tmp_path), seed=1)
    assert [c[0] for c in calls] == ["baseline-s1", "data-aug-ss-s1", "r1-ss-s1", "r1-ss-equal-updates-s1",
                                     "data-aug-gn-s1", "r1-gn-s1", "r1-gn-equal-updates-s1", "data-aug-cs-s1",
                                     "xtune-s1", "r1-cs-equal-updates-s1"]
    assert demo.default_out("sentiment", "real", "budget", 1000) == os.path.join("work", "demo", "real-mt")
    calls.clear()  # the size rows: plain fine-tuning also with stage 2's number of updates
    demo_runs.run_rows(rows, sentiment.ROW_SETS["size"], ["--epochs", "3"], str(tmp_path / "n500"), seed=1)
    assert calls == [("baseline-s1", "1"), ("baseline-equal-updates-s1", "1"), ("xtune-s1", "1,2")]


def test_demo_epochs_reach_every_row_and_name_the_folder(tmp_path, monkeypatch):
    """--epochs N (fewer sentences, as many updates): every stage N epochs, the equal-updates rows 2N."""
    seen = {}

    def run_rows(rows, names, common, out, seed, split):
        seen.update(common=common, rows=rows)
        return {name: {"metric": "accuracy"} for name in names}

    monkeypatch.setattr(demo, "prepare_real", lambda *a: {"model": "m", "bin": "b", "dicts": "d"})
    monkeypatch.setattr(demo, "run_rows", run_rows)
    monkeypatch.setattr(demo, "write_outputs", lambda *a: None)
    monkeypatch.setattr(demo, "bar_chart", lambda *a: None)
    demo.run("real", str(tmp_path), "cache", 1, row_set="size", n_train=500, epochs=4)
    a = pipeline.parse_flags(seen["common"] + ["--out", "o"])
    assert a.epochs == 4 and a.lr == 3e-5
    assert seen["rows"]["baseline-equal-updates"].flags[-2:] == ["--epochs", "8"]
    assert demo.default_out("sentiment", "real", "size", 500, 4) == os.path.join("work", "demo", "real-n500-e4")
    assert demo.default_out("sentiment", "real", "size", 500, 2) == os.path.join("work", "demo", "real-n500")


def test_a_dev_table_scores_the_runs_of_the_test_table(tmp_path, monkeypatch):
    calls = []
    fake_pipeline(monkeypatch, calls)
    rows, names, out = sentiment.sentiment_rows(), sentiment.ROW_SETS["ablation"], str(tmp_path)
    test = demo_runs.run_rows(rows, names, [], out, seed=1)
    calls.clear()
    dev = demo_runs.run_rows(rows, names, [], out, seed=1, split="valid")
    # the same runs again (the pipeline skips finished stages and scores them), none in new folders
    assert calls == [("baseline-s1", "1"), ("data-aug-cs-s1", "2"), ("xtune-s1", "1,2"), ("r2-only-s1", "2")]
    assert dev == test and (tmp_path / "xtune-s1" / "results-valid.json").is_file()
    calls.clear()
    assert demo_runs.run_rows(rows, names, [], out, seed=1, split="valid") == dev and calls == []


def test_pos_rows_the_authors_protocol_and_the_equal_updates_rows(tmp_path, monkeypatch):
    from xtune_fairseq.study import pos_rows as demo_pos

    rows = demo_pos.pos_rows()
    settings = demo_pos.SETTINGS
    assert settings[settings.index("--epochs") + 1] == "6" and "--stage1-epochs" not in settings
    for name in ("data-aug", "r2-only", "xtune", "xtune-mt"):  # stage 2 with stage 1's epochs ...
        row, equal = rows[name], rows[f"{name}-equal-updates"]
        assert row.stages == "2" and "--epochs" not in row.flags and row.folder == f"{equal.folder}-epochs-6"
        assert equal.flags == row.flags + demo_pos.EQUAL_UPDATES  # ... or with stage 1's updates
    assert rows["xtune"].teacher == rows["xtune-mt"].teacher == "xtune" and rows["r1-only"].stages == "1"
    for suffix in demo_pos.VARIANTS:
        extra = demo_pos.VARIANTS[suffix]
        assert rows[f"data-aug-{suffix}"].flags == rows["data-aug"].flags + extra
        xtune = rows[f"xtune-{suffix}"]
        assert xtune.flags == rows["r1-only"].flags + extra and xtune.stages == "1,2"
    assert set(demo_pos.ROW_SETS["sweep"]) <= set(rows) and set(demo_pos.ROW_SETS["equal-updates"]) <= set(rows)
    for row in rows.values():  # every row's flags are the pipeline's (a wrong choice failed only hours into a study)
        pipeline.parse_flags(["--model-dir", "m", "--data", "d", "--out", "o", *demo_pos.SETTINGS, *row.flags])

    # R1 only trains xTune's stage 1 alone; a row of the same folder that needs stage 2 then trains it
    calls = []
    fake_pipeline(monkeypatch, calls)
    names = ["r1-only", "xtune-equal-updates", "xtune"]
    results = demo_runs.run_rows(rows, names, [], str(tmp_path), seed=2)
    assert calls == [("xtune-s2", "1"), ("xtune-s2", "1,2"), ("xtune-epochs-6-s2", "2")]
    assert results["xtune-equal-updates"] == {"row": "xtune-s2", "stage": "2"}
    assert demo_cli.main(["--task", "pos", "--rows", "budget"]) == 2


def test_every_study_line_is_a_valid_demo_call(monkeypatch):
    """scripts/study.sh runs for hours: a line the demo refuses (flag, row set, range) fails here instead."""
    import shlex

    study = os.path.join(os.path.dirname(__file__), "..", "scripts", "study.sh")
    with open(study) as f:
        lines = [shlex.split(line)[1:] for line in f if line.startswith("demo ")]
    calls = []
    monkeypatch.setattr(demo_cli, "run_seeds", lambda *a: calls.append(a) or ("", "stem"))
    for argv in lines:
        assert demo_cli.main(argv) == 0, argv
    assert len(calls) == len(lines) >= 8
    assert {(c[4], c[5]) for c in calls} >= {("sentiment", "budget"), ("pos", "sweep"), ("sentiment", "size")}
