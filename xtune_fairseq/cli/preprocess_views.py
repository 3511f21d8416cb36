"""xtune-preprocess views DATA --name NAME --epochs N [fairseq-train flags]: binarized views.

Draws the training views of epochs 1..N exactly as `fairseq-train DATA FLAGS` would draw them
online (the training dataset's own code, from seed, epoch, row and stream) and binarizes them
into DATA/views/NAME beside input0/: one folder per epoch of fairseq indexed datasets, a row's
views at its row index (layout: xtune_fairseq/core/data/views_layout.py). Training with the same flags
and `--binarized-views NAME` then reads them instead of sampling and tokenizing in its loop, and
draws online from epoch N+1 on. Views drawn with other flags are refused by name.

FLAGS are fairseq-train's (the task's view flags --data-augmentation, --r1-augmentation,
--augmented-ratio, --code-switch-dicts, --subword-*, --max-positions, --seed, ...); a run's
other flags may stay on the line and are ignored. Classification and tagging data; the views of
span extraction are re-windowed and stay online.
"""

import argparse
import os

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.core.data.prepared import TASK_OF_KIND, data_kind
from xtune_fairseq.core.data.views_layout import VIEWS_DIR, disk_bytes, views_dir, write_views_info
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import dir_in_progress
from xtune_fairseq.core.flag_ranges import check_ranges


def training_rows(data: str, flags):
    """The task and its training rows (a PairedViewsDataset, views drawn online) as
    `fairseq-train DATA FLAGS` builds them."""
    import xtune_fairseq.fairseq_wiring.register  # noqa: F401  (the tasks)
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    from xtune_fairseq.fairseq_wiring.datasets.paired_views_dataset import PairedViewsDataset

    kind = data_kind(data)
    if kind not in ("classification", "tagging"):
        raise InputError(f"{data} holds {kind} data: its views are re-windowed per epoch and drawn online only")
    argv = [data, "--task", TASK_OF_KIND[kind], "--arch", "xlmr_xtune", "--criterion", "xtune_consistency", *flags]
    args = options.parse_args_and_arch(options.get_training_parser(), argv)
    args.binarized_views = ""  # drawn here, whatever the run will read
    task = tasks.setup_task(convert_namespace_to_omegaconf(args).task)
    task.load_dataset("train")
    rows = task.dataset("train")
    while not isinstance(rows, PairedViewsDataset):  # under fairseq's order wrappers
        rows = rows.dataset
    return task, rows


def write_binarized_views(data: str, name: str, epochs: int, flags=(), workers: int = 1, force: bool = False) -> str:
    from xtune_fairseq.fairseq_wiring.datasets.binarized_views import write_views

    dest = views_dir(data, name)
    task, rows = training_rows(data, list(flags))
    fp = task.views_fingerprint()
    with dir_in_progress(dest, "--name", VIEWS_DIR, force=force) as work:
        got = write_views(rows, work, epochs, len(task.source_dictionary), workers)
        write_views_info(work, epochs, len(rows), rows.n_original, got["roles"], got["word_maps"], fp,
                         disk_bytes(work, epochs, got["roles"]))
    return dest


def main(argv=None):
    p = argparse.ArgumentParser(prog="xtune-preprocess views", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="a data directory written by xtune-preprocess (classification or tagging)")
    p.add_argument("--name", required=True, help="the views folder DATA/views/NAME (what --binarized-views names); "
                   "an existing one is replaced")
    p.add_argument("--epochs", type=int, required=True, help="epochs of views to draw (training draws online after)")
    p.add_argument("--workers", type=int, default=1, help="processes drawing epochs side by side")
    p.add_argument("--force", action="store_true", help="replace a DATA/views/NAME folder holding files this command "
                   "did not write")
    args, flags = p.parse_known_args(argv)

    def go():
        check_ranges(args)
        if not os.path.isdir(args.data):
            raise InputError(f"{args.data}: not a folder; expected a data directory written by xtune-preprocess")
        print(write_binarized_views(args.data, args.name, args.epochs, flags, args.workers, args.force))

    return run_cli(go)


if __name__ == "__main__":
    raise SystemExit(main())
