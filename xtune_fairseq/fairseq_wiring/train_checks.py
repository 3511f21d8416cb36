"""fairseq-train and fairseq-hydra-train with our task: the flags fairseq uses before our task is set
up are checked first, and a user mistake ends with its one line under hydra too.

fairseq's train.main seeds numpy (np.random.seed: --seed 99999999999 was a 'Seed must be between
0 and 2**32 - 1' traceback) and creates --save-dir (a file there: NotADirectoryError) before it sets
up the task; the optimizer eval()s --adam-betas after it. install_config_check runs those checks
(flag_ranges.check_train_config, check_save_dir) where fairseq-train hands its configuration to
train.main (distributed_utils.call_main), so before any of that.

fairseq-hydra-train imports the user dir inside the job, and hydra's job runner catches every
exception of a job and prints its own traceback (hydra._internal.utils.run_and_report; only
HYDRA_FULL_ERROR=1 lets an exception through), so register.py's excepthook never sees an
InputError there. The job's exception surfaces in hydra's JobReturn.return_value: for our user
mistakes that now prints the one line and exits (install_hydra_one_line)."""

import os
import sys

from xtune_fairseq.core.data.prepared import TASK_OF_KIND
from xtune_fairseq.core.errors import InputError, NonFiniteLoss
from xtune_fairseq.core.flag_ranges import check_train_config

OUR_TASKS = tuple(TASK_OF_KIND.values())
USER_MISTAKES = (InputError, NonFiniteLoss)


def uses_xtune(cfg) -> bool:
    """Whether a whole fairseq configuration trains our task or our criterion."""
    names = [getattr(cfg.get(group), "_name", None) for group in ("task", "criterion")]
    return names[0] in OUR_TASKS or names[1] == "xtune_consistency"


def check_save_dir(cfg) -> None:
    save_dir = cfg.checkpoint.save_dir if cfg.get("checkpoint") is not None else None
    if save_dir and os.path.lexists(save_dir) and not os.path.isdir(save_dir):
        raise InputError(f"--save-dir {save_dir}: is a file, not a folder; --save-dir names the folder the "
                         "checkpoints are written to")


def check_before_training(cfg) -> None:
    if uses_xtune(cfg):
        check_train_config(cfg)
        check_save_dir(cfg)


def install_config_check() -> None:
    """fairseq-train (and fairseq_cli.train.cli_main's other callers) pass the parsed configuration to
    distributed_utils.call_main, looked up when called: checked there, before train.main or any spawn."""
    from fairseq.distributed import utils  # late: fairseq: start-up time (about 3 s)

    original = utils.call_main
    if getattr(original, "_xtune", False):
        return

    def call_main(cfg, main, **kwargs):
        check_before_training(cfg)
        return original(cfg, main, **kwargs)

    call_main._xtune = True
    utils.call_main = call_main


def install_hydra_one_line() -> None:
    try:
        from hydra.core.utils import JobReturn, JobStatus  # late: with fairseq
    except ImportError:
        return
    plain = JobReturn.__dict__.get("return_value")
    if not isinstance(plain, property) or getattr(plain.fget, "_xtune", False):
        return

    def return_value(self):
        failure = getattr(self, "_return_value", None)
        if self.status == JobStatus.FAILED and isinstance(failure, USER_MISTAKES):
            print(f"error: {failure}", file=sys.stderr, flush=True)
            raise SystemExit(1)  # not an Exception: hydra's run_and_report lets it through
        return plain.fget(self)

    return_value._xtune = True
    JobReturn.return_value = property(return_value, plain.fset)


def install_train_checks() -> None:
    install_config_check()
    install_hydra_one_line()
