"""xtune-teacher-cache: the stage-1 teacher's logits for every fixed input of the training set
(each original example and each of its translations), so that R2 on those rows needs no teacher
forward pass in stage 2 (pass the file as --teacher-cache). Re-sampled or noised views are not
fixed: the criterion still runs the teacher (--teacher-path) for batches that contain them.

  xtune-teacher-cache --teacher runs/x/stage1/checkpoint_best.pt --data data-bin --out runs/x/teacher.pt
(--out is never inside --data: the data directory holds what xtune-preprocess wrote, nothing else)
"""

import argparse
import os

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.core.data.prepared import TRANSLATIONS, meta_path, read_translation_table
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.flag_ranges import check_ranges


def build_cache(teacher: str, data: str, batch_size: int = 64) -> dict:
    import torch

    import xtune_fairseq.fairseq_wiring.register  # noqa: F401
    from xtune_fairseq.fairseq_wiring.checkpoints import load_with_data
    from xtune_fairseq.core.ownership import file_sha256
    from xtune_fairseq.fairseq_wiring.teacher import CACHE_FORMAT, data_fingerprint

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


COMMAND = "xtune-teacher-cache"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", required=True, help="stage-1 checkpoint")
    p.add_argument("--data", required=True, help="xtune-preprocess output the student trains on")
    p.add_argument("--out", required=True)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--force", action="store_true", help="replace an --out file that is not this command's own "
                   "previous output")
    a = p.parse_args(argv)

    def go():
        check_ranges(a)
        import torch

        from xtune_fairseq.core.files import atomic_open, check_output_file
        from xtune_fairseq.core.ownership import mark_output

        check_output_file(a.out, "--out", [a.teacher, a.data], COMMAND, a.force)
        cache = build_cache(a.teacher, a.data, a.batch_size)
        with atomic_open(a.out, "wb") as f:
            torch.save(cache, f)
        mark_output(a.out, COMMAND)
        print(f"wrote {a.out}: {len(cache['original'])} originals, {len(cache['translations'])} translations")

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
