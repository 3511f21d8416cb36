"""Registers the model `xlmr_xtune`, the tasks `xtune_classification`, `xtune_sequence_labeling`
and `xtune_span_extraction`, and the criterion `xtune_consistency` with fairseq; importing it
twice is harmless (modules load once).

It also allow-lists fairseq's checkpoint classes for torch.load, reads every checkpoint
fairseq loads through the configuration check (checkpoints.install_checked_reader), makes
fairseq's copies of a saved checkpoint atomic, lets torchrun start CPU ranks (launch.py), and makes a user mistake
(InputError) or a non-finite loss raised inside fairseq-train end with its one-line message,
not a traceback."""

import sys

from xtune_fairseq.fairseq_wiring.checkpoints import install_allowlist, install_atomic_copy, install_checked_reader
from xtune_fairseq.core.errors import InputError, NonFiniteLoss
from xtune_fairseq.fairseq_wiring.launch import install_cpu_torchrun
from xtune_fairseq.fairseq_wiring.train_checks import install_train_checks

install_allowlist()
install_checked_reader()
install_atomic_copy()
install_cpu_torchrun()
install_train_checks()  # --seed, --adam-betas, --save-dir before fairseq uses them; one line under hydra too

_previous_hook = sys.excepthook


def _user_error_hook(exc_type, exc, tb):
    if issubclass(exc_type, (InputError, NonFiniteLoss)):
        print(f"error: {exc}", file=sys.stderr)
        return
    _previous_hook(exc_type, exc, tb)


if getattr(sys.excepthook, "__name__", "") != _user_error_hook.__name__:  # once, even across reloads
    sys.excepthook = _user_error_hook

import xtune_fairseq.fairseq_wiring.criterions.xtune_consistency  # noqa: E402,F401
import xtune_fairseq.fairseq_wiring.models.xlmr_xtune  # noqa: E402,F401
import xtune_fairseq.fairseq_wiring.tasks.xtune_classification  # noqa: E402,F401
import xtune_fairseq.fairseq_wiring.tasks.xtune_sequence_labeling  # noqa: E402,F401
import xtune_fairseq.fairseq_wiring.tasks.xtune_span_extraction  # noqa: E402,F401
