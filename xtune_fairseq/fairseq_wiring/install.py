"""Everything the extension changes in fairseq and Python, made by one explicit, idempotent call,
`install()`: what `--user-dir user_dir` runs (user_dir/__init__.py), so fairseq-train,
fairseq-hydra-train, fairseq-validate and torchrun get it, and what the library's functions that let
fairseq read a checkpoint run first; a notebook that runs fairseq's own loaders on checkpoints it did
not write calls it too. Importing the package, or `fairseq_wiring.register` (the registrations
alone), changes nothing.

Besides registering the model, tasks and criterion (register.py),
it allow-lists fairseq's checkpoint classes for torch.load, reads every checkpoint fairseq loads
through the configuration check (checkpoints.install_checked_reader), makes fairseq's copies of a
saved checkpoint atomic, lets torchrun start CPU ranks (launch.py), checks flags fairseq would
evaluate or misuse before it does (train_checks.py), keeps --wandb-project to one finished wandb run
per training (wandb_runs.py), and makes a user mistake (InputError) or a
non-finite loss raised inside fairseq-train end with its one-line message, not a traceback."""

import sys

from xtune_fairseq.core.errors import InputError, NonFiniteLoss
from xtune_fairseq.fairseq_wiring.checkpoints import install_allowlist, install_atomic_copy, install_checked_reader
from xtune_fairseq.fairseq_wiring.launch import install_cpu_torchrun
from xtune_fairseq.fairseq_wiring.train_checks import install_train_checks
from xtune_fairseq.fairseq_wiring.wandb_runs import install_wandb_runs


def install() -> None:
    """Each change once, however often it is called."""
    import xtune_fairseq.fairseq_wiring.register  # noqa: F401  (late: the classes import fairseq's models)

    install_allowlist()
    install_checked_reader()
    install_atomic_copy()
    install_cpu_torchrun()
    install_train_checks()  # --seed, --adam-betas, --save-dir before fairseq uses them; one line under hydra too
    install_wandb_runs()  # --wandb-project: one run folder per training, finished before exit
    if getattr(sys.excepthook, "__name__", "") != _user_error_hook.__name__:  # once, even across reloads
        _user_error_hook.previous = sys.excepthook
        sys.excepthook = _user_error_hook


def _user_error_hook(exc_type, exc, tb):
    if issubclass(exc_type, (InputError, NonFiniteLoss)):
        print(f"error: {exc}", file=sys.stderr)
        return
    _user_error_hook.previous(exc_type, exc, tb)


_user_error_hook.previous = sys.excepthook
