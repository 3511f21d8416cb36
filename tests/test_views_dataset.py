"""Training rows: views re-sampled per epoch from (seed, epoch, index), stage-2 copies, flags."""

import torch

from conftest import make_task
from xtune_fairseq.core.augment.gaussian_noise import noise_rows


def rows(task, epoch, n=40, split="train"):
    ds = task.dataset(split)
    ds.set_epoch(epoch)
    return [ds[i] for i in range(n)]


def test_partner_views_resampled_per_epoch_and_reproducible(tiny):
    flags = ["--r1-augmentation", "ss", "--subword-ratio", "1.0", "--subword-alpha", "0.02"]
    task, _ = make_task(tiny, *flags)
    task.load_dataset("train")
    e1, e2, e1_again = rows(task, 1), rows(task, 2), rows(task, 1)
    same = [torch.equal(a["partner"], b["partner"]) for a, b in zip(e1, e2)]
    assert sum(same) < len(same) / 2
    assert all(torch.equal(a["partner"], b["partner"]) for a, b in zip(e1, e1_again))
    assert all(torch.equal(a["source"], b["source"]) for a, b in zip(e1, e2))  # D's rows are the originals

    other, _ = make_task(tiny, *flags)  # a fresh run with the same seed draws the same views
    other.load_dataset("train")
    assert all(torch.equal(a["partner"], b["partner"]) for a, b in zip(e1, rows(other, 1)))


def test_stage2_appends_augmented_copies(tiny):
    task, _ = make_task(tiny, "--data-augmentation", "cs", "--r1-augmentation", "cs",
                        "--code-switch-dicts", tiny["dicts"], "--code-switch-ratio", "0.5")
    task.load_dataset("train")
    ds = task.dataset("train")
    inner = ds.dataset
    n = len(inner.examples)
    assert len(ds) == 2 * n
    ds.set_epoch(1)
    orig, copy = inner[3], inner[n + 3]
    assert not orig["is_aug"] and copy["is_aug"]
    assert inner.source_index(n + 3) == 3 and torch.equal(orig["target"], copy["target"])
    assert not torch.equal(orig["source"], copy["source"])  # switched words
    assert not torch.equal(copy["source"], copy["partner"])  # the partner is a fresh draw
    batch = inner.collater([inner[i] for i in (0, 1, n, n + 1)])
    assert batch["is_aug"].tolist() == [False, False, True, True]
    assert batch["partner"]["src_tokens"].size(0) == 4


def test_augmented_ratio(tiny):
    task, _ = make_task(tiny, "--data-augmentation", "ss", "--augmented-ratio", "0.5")
    task.load_dataset("train")
    n = len(task.dataset("train").dataset.examples)
    assert len(task.dataset("train")) == n + n // 2


def test_gaussian_noise_flags_rows_not_tokens(tiny):
    """A GN view is the unchanged input; the rows that get noise follow from the flags: every R1
    partner under --r1-augmentation gn, the augmented copies under --data-augmentation gn."""
    task, _ = make_task(tiny, "--r1-augmentation", "gn")
    task.load_dataset("train")
    ds = task.dataset("train").dataset
    assert torch.equal(ds[0]["source"], ds[0]["partner"])
    batch = ds.collater([ds[i] for i in range(4)])
    assert noise_rows(task.cfg, batch["is_aug"], with_partners=True).tolist() == [False] * 4 + [True] * 4

    task, _ = make_task(tiny, "--data-augmentation", "gn", "--r1-augmentation", "ss")
    task.load_dataset("train")
    ds = task.dataset("train").dataset
    n = len(ds.examples)
    assert torch.equal(ds[n]["source"], ds[ds.source_index(n)]["source"])  # a GN copy: its example's ids
    batch = ds.collater([ds[0], ds[n]])
    assert noise_rows(task.cfg, batch["is_aug"], with_partners=True).tolist() == [False, True, False, False]


def test_translation_partner_is_a_translation(tiny):
    task, _ = make_task(tiny, "--r1-augmentation", "mt")
    task.load_dataset("train")
    inner = task.dataset("train").dataset
    ex = inner.examples[0]
    choices = {tuple(task.source_dictionary.encode_line(" ".join(task._sampler().sp.encode(t.texts[0], out_type=str)),
                                                        append_eos=False).tolist())
               for t in task.view_maker("mt", inner.examples).translations[ex.id]}
    partner = tuple(inner[0]["partner"].tolist()[1:-1])
    assert partner in choices


def test_evaluation_splits_have_no_views(tiny):
    task, _ = make_task(tiny, "--r1-augmentation", "ss", "--data-augmentation", "ss")
    task.load_dataset("valid")
    ds = task.dataset("valid")
    assert len(ds) == len(ds.dataset.examples) and "partner" not in ds.dataset[0]


def test_view_makers_share_one_encoder_and_word_memo(tiny):
    """A and A' of a task share the encoder and the best-segmentation memo (one copy per process),
    and the views are those of makers with memos of their own."""
    from xtune_fairseq.core.augment.views import ViewMaker

    task, _ = make_task(tiny, "--data-augmentation", "ss", "--r1-augmentation", "cs",
                        "--code-switch-dicts", tiny["dicts"])
    ds = task.load_dataset("train").dataset
    assert ds.augment.encoder is ds.partner.encoder and ds.augment._word_ids is ds.partner._word_ids
    ds.set_epoch(2)
    shared = [(ds[i]["source"].tolist(), ds[i]["partner"].tolist()) for i in range(len(ds))]
    ds.augment = ViewMaker("ss", task._new_encoder(), task._sampler())
    ds.partner = ViewMaker("cs", task._new_encoder(), task._sampler(), task._switcher())
    assert ds.augment._word_ids is not ds.partner._word_ids
    assert [(ds[i]["source"].tolist(), ds[i]["partner"].tolist()) for i in range(len(ds))] == shared
    assert ds.augment._word_ids and ds.partner._word_ids
