"""The benchmarks (cli/bench*.py) on the tiny model,
so that they keep running: the corpus's shape, every measurement present and sane."""

import json
import shutil

import pytest

from conftest import make_task
from xtune_fairseq.bench import augment as bench_augment
from xtune_fairseq.bench import scale as bench_scale
from xtune_fairseq.bench import suite as bench
from xtune_fairseq.bench import translations as bench_translations
from xtune_fairseq.bench import views as bench_views
from xtune_fairseq.core.data.prepared import read_examples, read_translation_table
from xtune_fairseq.core.data.readers import read_classification_tsv, translation_table


def test_corpus_is_xnli_shaped_from_dictionary_words(tiny, tmp_path):
    words = bench_scale.english_words(tiny["dicts"].split(","))
    with open(tiny["dict_fr"], encoding="utf-8") as f:
        fr = {line.split()[0] for line in f}
    assert words[0] in fr and len(set(words)) == len(words)  # words of every dictionary come first
    path = bench_scale.write_pairs(str(tmp_path / "train.tsv"), 200, words, seed=3, length=(20, 30), chunk=64)
    rows = read_classification_tsv(path)
    assert len(rows) == 200 and len({ex.id for ex in rows}) == 200
    assert {ex.label for ex in rows} == set(bench_scale.LABELS)
    drawn = []
    for ex in rows:
        assert len(ex.texts) == 2
        for text in ex.texts:
            assert 20 <= len(text.split()) <= 30 and text[0].isupper() and text.endswith(".")
            drawn += text.rstrip(".").lower().split()
    assert set(drawn) <= set(words)
    assert drawn.count(words[0]) > drawn.count(words[-1])  # Zipf: the first rank is the most frequent


def test_epoch_of_views_all_rows_or_a_sample(tiny):
    task, _ = make_task(tiny, "--data-augmentation", "cs", "--r1-augmentation", "cs",
                        "--code-switch-dicts", tiny["dicts"])
    ds = task.load_dataset("train")
    every = bench_scale.draw_epoch(ds, 0)
    assert every["timed_rows"] == len(ds) == 2 * len(ds.dataset.examples)
    sample = bench_scale.draw_epoch(ds, 50)
    assert sample["timed_rows"] == 50 and sample["epoch_cpu_s"] > 0 and sample["partner_tokens_mean"] > 3


def test_worker_memory_reads_each_loader_worker(tiny):
    task, _ = make_task(tiny, "--data-augmentation", "ss", "--r1-augmentation", "ss")
    ds = task.load_dataset("train")
    got = bench_scale.worker_memory(task, ds, 2, 0.25, seed=1)
    assert got["workers"] == 2 and got["batches"] >= 1
    for uss, rss in zip(got["worker_uss_mb"], got["worker_rss_mb"]):
        assert 0 < uss < rss  # a worker shares pages with the process it was forked from
    assert got["main"]["Rss"] > 50


def test_scale_benchmark_end_to_end(tiny, tmp_path, capsys):
    out = tmp_path / "scale.json"
    rc = bench_scale.main(["--model-dir", tiny["model"], "--code-switch-dicts", tiny["dicts"], "--sizes", "200",
                           "--augmentations", "cs", "--sample-rows", "0", "--max-positions", "128",
                           "--work", str(tmp_path / "work"), "--json", str(out)])
    assert rc == 0
    (r,) = json.loads(out.read_text())
    assert r["rows"] == 200 and r["preprocess_s"] > 0 and r["preprocess_peak_rss_mb"] > 50
    cs = r["cs"]
    assert cs["rows"] == 400 and cs["timed_rows"] == 400 and cs["rss_growth_mb"] > 0 and cs["epoch_cpu_s"] > 0
    assert "| 200 |" in capsys.readouterr().out
    assert not (tmp_path / "work" / "n200").exists()  # without --keep the corpus goes


@pytest.mark.parametrize("kinds", ["ss,cs,mt"])
def test_view_speed_benchmark(tiny, tmp_path, kinds, capsys):
    out = tmp_path / "views.json"
    rc = bench_augment.main(["--model-dir", tiny["model"], "--code-switch-dicts", tiny["dicts"], "--rows", "40",
                             "--words", "8", "10", "--kinds", kinds, "--num-workers", "0", "--json", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert list(report["kinds"]) == kinds.split(",")
    for k in report["kinds"].values():
        assert k["views_per_s"] > 0 and k["tokens_per_view"] > 10 and k["loader_s_per_batch"]["0"] > 0
        assert k["step_share"] == pytest.approx(2 * 32 / k["views_per_s"] / 0.1)
    assert "| mt |" in capsys.readouterr().out


def test_step_time_benchmarks_report_and_check_flags(tiny, tmp_path, capsys):
    """xtune-bench and bench_views through their shared main (report_cli): a report, and a flag
    out of range refused in one line before anything is measured."""
    out = tmp_path / "bench.json"
    rc = bench.main(["--model-dir", tiny["model"], "--data", tiny["bin"], "--updates", "1", "--rounds", "1",
                     "--warmup", "0", "--max-positions", "32", "--json", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["configs"]["plain"]["ratio_to_plain"] == 1 and report["configs"]["r1"]["median_update_s"] > 0
    assert "| r1 |" in capsys.readouterr().out
    assert bench.main(["--model-dir", tiny["model"], "--data", tiny["bin"], "--rounds", "0"]) == 2
    assert "--rounds 0: expected" in capsys.readouterr().err
    data = shutil.copytree(tiny["bin"], tmp_path / "bin")  # the benchmark writes views into it
    rc = bench_views.main(["--data", str(data), "--model-dir", tiny["model"], "--epochs", "1", "--rounds", "1",
                           "--json", str(tmp_path / "views.json"), "--", "--data-augmentation", "ss",
                           "--r1-augmentation", "ss", "--max-positions", "32"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "views.json").read_text())
    assert set(printed["binarized_over_online"]) == {"data_s", "step_s"}
    assert bench_views.main(["--data", str(data), "--model-dir", tiny["model"], "--", "--binarized-views", "x"]) == 2


def test_translation_table_benchmark(tmp_path, capsys):
    path = bench_translations.write_translations(str(tmp_path / "t.jsonl"), 30, 4, chunk=7)
    rows = read_examples(path)
    assert len(rows) == 120 and [r.id for r in rows[:5]] == ["train-0"] * 4 + ["train-1"]
    assert [r.lang for r in rows[:4]] == list(bench_translations.LANGS[:4])
    assert all(len(r.texts) == 2 and 20 <= len(r.texts[0].split()) <= 30 for r in rows)
    assert dict(read_translation_table(path).items()) == translation_table(rows)
    out = tmp_path / "t.json"
    rc = bench_translations.main(["--ids", "30", "--per-id", "3", "--work", str(tmp_path / "w"), "--json", str(out)])
    assert rc == 0
    results = json.loads(out.read_text())
    assert [r["holder"] for r in results] == ["dict", "mmap"]
    for r in results:
        assert r["rows"] == 90 and r["ids"] == 30 and r["draw_us"] > 0 and r["worker_uss_mb"] > 0
    assert "| 90 (30) | mmap |" in capsys.readouterr().out
    assert not (tmp_path / "w" / "translations-30.jsonl").exists()


def test_scale_benchmark_preprocesses_translations(tiny, tmp_path, capsys):
    out = tmp_path / "scale.json"
    rc = bench_scale.main(["--model-dir", tiny["model"], "--code-switch-dicts", tiny["dicts"], "--sizes", "50",
                           "--augmentations", "none", "--translations-per-pair", "3", "--keep",
                           "--work", str(tmp_path / "work"), "--json", str(out)])
    assert rc == 0
    (r,) = json.loads(out.read_text())
    assert r["translations"] == 150 and r["preprocess_peak_rss_mb"] > 50 and "cs" not in r
    assert "| 50 + 150 translations |" in capsys.readouterr().out
    table = read_translation_table(str(tmp_path / "work" / "n50" / "bin" / "meta" / "translations.jsonl"))
    assert len(table) == 50 and all(len(group) == 3 for group in table.values())
