"""Paired approximate randomization against exact enumeration, and xtune-results --compare."""

import itertools
import json

import numpy as np
import pytest

from xtune_fairseq.core.metrics.significance import average_score, holm, paired_randomization


def test_average_score_is_the_mean_of_per_language_scores():
    stats = np.array([[1, 1], [0, 1], [1, 1], [3, 4], [1, 2]], dtype=float)
    langs = np.array([0, 0, 0, 1, 1])
    assert average_score(stats, langs, "ratio") == pytest.approx((100 * 2 / 3 + 100 * 4 / 6) / 2)
    f1 = np.array([[2, 3, 4], [1, 1, 1]], dtype=float)  # correct, predicted, gold
    assert average_score(f1, np.array([0, 1]), "f1") == pytest.approx((100 * 2 * 2 / 7 + 100.0) / 2)


def exact_p(a, b, langs, kind="ratio"):
    """Every one of the 2^(seeds x examples) swaps enumerated."""
    observed = (average_score(a, langs, kind) - average_score(b, langs, kind)).mean()
    cells = a.shape[0] * a.shape[1]
    hits = 0
    for signs in itertools.product([False, True], repeat=cells):
        swap = np.array(signs).reshape(a.shape[:2])[..., None]
        d = (average_score(np.where(swap, b, a), langs, kind) - average_score(np.where(swap, a, b), langs, kind))
        hits += abs(d.mean()) >= abs(observed) - 1e-12
    return observed, hits / 2 ** cells


def test_randomization_matches_exact_enumeration():
    rng = np.random.default_rng(3)
    langs = np.array([0, 0, 0, 1, 1, 1])
    a = np.stack([np.stack([rng.integers(0, 2, 6), np.ones(6)], -1) for _ in range(2)]).astype(float)
    b = np.stack([np.stack([rng.integers(0, 2, 6), np.ones(6)], -1) for _ in range(2)]).astype(float)
    a[:, :3, 0] = 1  # A better on language 0
    observed, p = exact_p(a, b, langs)
    result = paired_randomization(a, b, langs, n_samples=20000, seed=1)
    assert result["difference"] == pytest.approx(observed)
    assert result["p_value"] == pytest.approx(p, abs=0.01)
    assert 0.0 < p < 1.0


def test_identical_systems_and_a_clear_winner():
    langs = np.repeat([0, 1], 200)
    same = np.stack([np.ones(400), np.ones(400)], -1)[None].repeat(3, 0)
    assert paired_randomization(same, same, langs, n_samples=200)["p_value"] == 1.0
    rng = np.random.default_rng(7)  # not the test's own seed (0): its draws would correlate with the swaps
    good = np.stack([(rng.random((3, 400)) < 0.8), np.ones((3, 400))], -1).astype(float)
    bad = np.stack([(rng.random((3, 400)) < 0.6), np.ones((3, 400))], -1).astype(float)
    r = paired_randomization(good, bad, langs, n_samples=2000)
    assert r["difference"] > 10 and r["p_value"] == pytest.approx(1 / 2001)


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]


def _result(correct, langs):
    return {"per_language": {"de": 50.0, "en": 50.0}, "average": 100 * float(np.mean(correct)), "transfer_gap": 0.0,
            "source_language": "en", "metric": "accuracy",
            "examples": {"langs": langs, "kind": "ratio", "stats": [[c, 1] for c in correct]}}


def test_results_compare_writes_a_significance_table(tmp_path, capsys):
    from xtune_fairseq.cli.results import main

    langs = ["de"] * 50 + ["en"] * 50
    rng = np.random.default_rng(5)
    for seed in (1, 2):
        base = rng.random(100) < 0.5
        data = {"baseline": _result(base.astype(int).tolist(), langs),
                "better": _result(np.ones(100, dtype=int).tolist(), langs),
                "same": _result(base.astype(int).tolist(), langs)}
        (tmp_path / f"results-s{seed}.json").write_text(json.dumps(data))
    glob = str(tmp_path / "results-s*.json")
    out = tmp_path / "table"
    argv = [f"--run=baseline={glob}", f"--run=better={glob}", f"--run=same={glob}", "--out", str(out),
            "--compare", "baseline", "--samples", "999"]
    assert main(argv) == 0
    tests = json.loads((tmp_path / "table-significance.json").read_text())
    assert tests["same"]["p_value"] == 1.0 and tests["same"]["difference"] == 0.0
    assert tests["better"]["p_value"] == pytest.approx(1 / 1000) and tests["better"]["seeds"] == 2
    text = (tmp_path / "table-significance.md").read_text()
    assert "| better | +" in text and "| yes |" in text and "| same | +0.00 | 1.0000 | 1.0000 | no |" in text
    assert "| run | avg - baseline |" in text
    gains = [100 - data["baseline"]["average"] for data in (json.loads((tmp_path / f"results-s{seed}.json").read_text())
                                                            for seed in (1, 2))]
    assert tests["better"]["per_seed"] == pytest.approx(gains) and tests["same"]["per_seed"] == [0, 0]
    assert f"| 2 of 2 (+{gains[0]:.2f}, +{gains[1]:.2f}) |" in text and "| 0 of 2 (+0.00, +0.00) |" in text
    assert main(argv[:-3] + ["same", "--samples", "999"]) == 0  # any run can be the reference
    text = (tmp_path / "table-significance.md").read_text()
    assert "| run | avg - same |" in text and "| baseline | +0.00 |" in text
    # a run that was scored on other test examples cannot be paired
    other = json.loads((tmp_path / "results-s1.json").read_text())
    other["same"]["examples"]["langs"] = ["en"] * 100
    (tmp_path / "results-s1.json").write_text(json.dumps(other))
    assert main(argv[:-4] + ["--out", str(tmp_path / "t2"), "--compare", "baseline"]) == 2
    assert "not evaluated on the same test examples" in capsys.readouterr().err


def test_per_example_statistics_follow_the_split_order_whatever_the_seed(tiny, tmp_path):
    """Batching order depends on the checkpoint's seed; the statistics of two runs pair example by example."""
    from conftest import fairseq_train, train_args
    from xtune_fairseq.evaluation import evaluate
    from xtune_fairseq.core.data.prepared import read_examples

    checkpoints = {}
    for seed in (1, 2):
        save = tmp_path / f"s{seed}"
        fairseq_train(train_args(tiny, save, "--r1-lambda", "0", "--sort-by-length", "--seed", str(seed)))
        checkpoints[f"s{seed}"] = str(save / "checkpoint_best.pt")
    results = evaluate(checkpoints, tiny["bin"], "test")
    split = [ex.lang for ex in read_examples(f"{tiny['bin']}/meta/test.jsonl")]
    assert results["s1"]["examples"]["langs"] == results["s2"]["examples"]["langs"] == split
    for r in results.values():  # the statistics give the reported scores back
        stats = np.array(r["examples"]["stats"])
        for lang, score in r["per_language"].items():
            mine = [s for s, l in zip(stats, split) if l == lang]
            assert score == pytest.approx(100 * sum(s[0] for s in mine) / len(mine))
