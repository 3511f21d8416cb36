"""The teacher cache (`xtune-teacher-cache`): the stage-1 teacher's logits for every fixed input of
the training set (each original example and each of its translations), so that R2 on those rows
needs no teacher forward pass in stage 2 (`--teacher-cache FILE`). Re-sampled or noised views are
not fixed: the criterion still runs the teacher (--teacher-path) for batches that contain them."""

import os

from xtune_fairseq.core.data.prepared import TRANSLATIONS, meta_path, read_translation_table
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import atomic_open
from xtune_fairseq.core.ownership import file_sha256, mark_output
from xtune_fairseq.fairseq_wiring.checkpoints import load_with_data
from xtune_fairseq.fairseq_wiring.teacher import CACHE_FORMAT, data_fingerprint

COMMAND = "xtune-teacher-cache"  # the writer a cache file's marker names


def build_cache(teacher: str, data: str, batch_size: int = 64) -> dict:
    """The cache of checkpoint teacher on data's training rows (classification data), as a dict of
    tensors and what they were made from (training refuses it for another teacher or other rows)."""
    # torch, fairseq and the wiring imported here, not at the top (start-up time of the commands)
    import torch

    from xtune_fairseq.fairseq_wiring.install import install  # late: fairseq: start-up time

    install()  # our classes registered, fairseq's checkpoint reader checked (as --user-dir user_dir)

    model, task = load_with_data(teacher, data, data_augmentation="none", r1_augmentation="none", teacher_cache="")
    if getattr(task, "kind", "classification") != "classification":
        raise InputError(f"{teacher}: the teacher cache holds sentence-level predictions (classification tasks only)")
    task.load_dataset("train")
    ds = task.dataset("train").dataset
    original = task.teacher_logits(model, [torch.tensor(ds.originals[i].ids) for i in range(len(ds.originals))],
                                   batch_size)
    rows, seqs = {}, []
    table_path = meta_path(data, TRANSLATIONS)
    if os.path.isfile(table_path):
        maker = task.view_maker("mt", ds.examples)
        for ex_id, translations in read_translation_table(table_path).items():
            rows[ex_id] = list(range(len(seqs), len(seqs) + len(translations)))
            seqs += [torch.tensor(maker.encode_texts(t.texts, None)) for t in translations]
    translated = task.teacher_logits(model, seqs, batch_size)
    if not (torch.isfinite(original).all() and torch.isfinite(translated).all()):
        raise InputError(f"{teacher}: the teacher's logits are NaN/inf on {data}'s training rows; no cache written")
    # what the rows were made from: training refuses the cache for another teacher file or other rows
    return {"format": CACHE_FORMAT, "teacher": os.path.abspath(teacher), "teacher_sha256": file_sha256(teacher),
            "data_fingerprint": data_fingerprint(data, ds.examples), "labels": list(task.label_names),
            "n_examples": len(ds.examples), "original": original, "translations": translated,
            "translation_rows": rows}


def write_cache(teacher: str, data: str, out: str, batch_size: int = 64) -> dict:
    """build_cache saved whole to out (never half a file), marked as this writer's output; returns
    the cache. The caller has checked out (files.check_output_file)."""
    import torch  # start-up time, as above

    cache = build_cache(teacher, data, batch_size)
    with atomic_open(out, "wb") as f:
        torch.save(cache, f)
    mark_output(out, COMMAND)
    return cache
