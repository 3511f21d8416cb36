"""Binarized views (`xtune-preprocess views`): the training views of epochs 1..N drawn exactly as
`fairseq-train DATA FLAGS` would draw them online (the training dataset's own code, from seed,
epoch, row and stream), binarized into DATA/views/NAME beside input0/ (layout:
core/data/views_layout.py; writer: fairseq_wiring/datasets/binarized_views.py). Classification and
tagging data; the views of span extraction are re-windowed and stay online.
"""

from typing import Sequence, Tuple

from xtune_fairseq.core.data.prepared import TASK_OF_KIND, data_kind
from xtune_fairseq.core.data.views_layout import VIEWS_DIR, disk_bytes, views_dir, write_views_info
from xtune_fairseq.core.errors import InputError
from xtune_fairseq.core.files import dir_in_progress
from xtune_fairseq.fairseq_wiring.datasets.paired_views_dataset import PairedViewsDataset


def training_rows(data: str, flags: Sequence[str]) -> Tuple[object, object]:
    """The task and its training rows (a PairedViewsDataset, views drawn online) as
    `fairseq-train DATA FLAGS` builds them."""
    # fairseq and the wiring imported here, not at the top: `xtune-preprocess --help` starts without torch
    import xtune_fairseq.fairseq_wiring.register  # noqa: F401  (the tasks)
    from fairseq import options, tasks  # late: fairseq: start-up time (about 3 s)
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf  # late: fairseq: start-up time (about 3 s)


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


def write_binarized_views(data: str, name: str, epochs: int, flags: Sequence[str] = (), workers: int = 1,
                          force: bool = False) -> str:
    """The views of epochs 1..epochs of `fairseq-train data FLAGS` into data/views/name (replaced
    when this writer wrote it, or with force); workers: processes drawing epochs side by side.
    Returns the views folder."""
    # torch imported with the writer, not at the top (start-up time of `xtune-preprocess --help`)
    from xtune_fairseq.fairseq_wiring.datasets.binarized_views import write_views

    dest = views_dir(data, name)
    task, rows = training_rows(data, list(flags))
    fp = task.views_fingerprint()
    with dir_in_progress(dest, "--name", VIEWS_DIR, force=force) as work:
        got = write_views(rows, work, epochs, len(task.source_dictionary), workers)
        write_views_info(work, epochs, len(rows), rows.n_original, got["roles"], got["word_maps"], fp,
                         disk_bytes(work, epochs, got["roles"]))
    return dest
