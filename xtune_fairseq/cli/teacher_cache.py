"""xtune-teacher-cache: the stage-1 teacher's logits for every fixed input of the training set
(each original example and each of its translations), so that R2 on those rows needs no teacher
forward pass in stage 2 (pass the file as --teacher-cache). Re-sampled or noised views are not
fixed: the criterion still runs the teacher (--teacher-path) for batches that contain them.

  xtune-teacher-cache --teacher-path runs/x/stage1/checkpoint_best.pt --data data-bin --out runs/x/teacher.pt
(--out is never inside --data: the data directory holds what xtune-preprocess wrote, nothing else)
"""

import argparse

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.core.files import check_output_file
from xtune_fairseq.core.flag_ranges import check_ranges
from xtune_fairseq.prepare.teacher_cache import COMMAND, write_cache


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher-path", "--teacher", dest="teacher", required=True, metavar="TEACHER_PATH",
                   help="stage-1 checkpoint, the teacher fairseq-train's --teacher-path names (--teacher: its earlier "
                   "name here)")
    p.add_argument("--data", required=True, help="xtune-preprocess output the student trains on")
    p.add_argument("--out", required=True, help="cache file to write (never inside --data)")
    p.add_argument("--batch-size", type=int, default=64, help="rows per forward pass of the teacher")
    p.add_argument("--force", action="store_true", help="replace an --out file that is not this command's own "
                   "previous output")
    a = p.parse_args(argv)

    def go():
        check_ranges(a)
        check_output_file(a.out, "--out", [a.teacher, a.data], COMMAND, a.force)
        cache = write_cache(a.teacher, a.data, a.out, a.batch_size)
        print(f"wrote {a.out}: {len(cache['original'])} originals, {len(cache['translations'])} translations")

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
