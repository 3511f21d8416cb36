"""fairseq-train and fairseq-hydra-train with our task: the flags fairseq uses before our task is set
up are checked first, and a user mistake ends with its one line under hydra too.

fairseq's train.main seeds numpy (np.random.seed: --seed 99999999999 was a 'Seed must be between
0 and 2**32 - 1' traceback) and creates --save-dir (a file there: NotADirectoryError) before it sets
up the task; the optimizer eval()s --adam-betas after it. install_config_check runs those checks
(flag_ranges.check_train_config, check_save_dir) where fairseq-train hands its configuration to
train.main (distributed_utils.call_main), so before any of that.

fairseq-hydra-train imports the user dir inside the job, and hydra's job runner catches every
exception of a job and prints its own traceback (hydra._internal.utils.run_and_report; only
HYDRA_FULL_ERROR=1 lets an exception through), so install.py's excepthook never sees an
InputError there. The job's exception surfaces in hydra's JobReturn.return_value: for our user
mistakes that now prints the one line and exits (install_hydra_one_line).

fairseq-hydra-train also merges fairseq's defaults into the configuration (add_defaults, OmegaConf.merge)
before the job reads it: a key the YAML leaves ??? and the command line does not set silently became
its default (lr_scheduler.warmup_updates: 0, no warm-up), and a missing lr_scheduler.total_num_update
became optimization.max_update, 0 unless set: a bare AssertionError in the scheduler. train.main
imports the user dir, then calls add_defaults (looked up in fairseq_cli.train when called):
install_job_check checks there, on the configuration hydra composed for the job (before any merge),
then runs the fairseq-train checks, before the seed, the save dir or any data is touched.
fairseq-train without --total-num-update failed composing its configuration (a traceback): checked
where cli_main converts its flags."""

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


def check_schedule(total_num_update, max_update=None) -> None:
    """polynomial_decay decays the learning rate over total_num_update updates (under hydra its default is
    optimization.max_update, 0 unless set: an AssertionError; fairseq-train without --total-num-update
    failed composing its configuration, a traceback)."""
    total = max_update if total_num_update is None else total_num_update
    try:  # fairseq-train's namespace holds the flag's text ('19')
        number = float(total) if total is not None and not isinstance(total, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is not None and number > 0:
        return
    given = "not given" if total is None else f"{number:g}" if number is not None else total
    raise InputError(f"--total-num-update (lr_scheduler.total_num_update) {given}: expected the number of updates "
                     "the polynomial_decay learning rate decays over, a positive number (ceil(training rows / "
                     "batch size) * epochs, as in the pipeline's stage command.txt)")


def check_before_training(cfg) -> None:
    if uses_xtune(cfg):
        check_train_config(cfg)
        check_save_dir(cfg)
        schedule = cfg.get("lr_scheduler")
        if schedule is not None and schedule.get("_name") == "polynomial_decay":
            check_schedule(schedule.get("total_num_update"), cfg.optimization.get("max_update"))


def missing_keys(node, prefix: str = "") -> list:
    """The keys of an omegaconf configuration still ??? (mandatory, unset), as group.key."""
    from omegaconf import OmegaConf  # late: with hydra

    out = []
    for key in node:
        if OmegaConf.is_missing(node, key):
            out.append(f"{prefix}{key}")
        elif not OmegaConf.is_interpolation(node, key) and OmegaConf.is_dict(node[key]):
            out += missing_keys(node[key], f"{prefix}{key}.")
    return out


def job_unset_keys(job, loader) -> list:
    """The keys the job's primary YAML leaves ??? and nothing set: not on the command line, and no other
    config of its defaults list (where the value composed for the job is still ???, or, in fairseq's typed
    groups, where hydra's schema merge already filled in the default: checkpoint.save_dir)."""
    from fairseq.dataclass.configs import FairseqConfig  # late: fairseq, as the other checks
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    primary = loader.repository.load_config(job.job.config_name)
    overrides = list(job.overrides.task)
    given = {o.key_or_group for o in OverridesParser.create().parse_overrides(overrides)}
    composed = loader.load_configuration(job.job.config_name, overrides, RunMode.RUN)
    schema = OmegaConf.structured(FairseqConfig)
    unset = []
    for key in missing_keys(primary.config) if primary is not None else []:
        parent, _, leaf = key.rpartition(".")
        node = OmegaConf.select(composed, parent) if parent else composed
        if key.startswith("hydra.") or key in given or not OmegaConf.is_dict(node) or leaf not in node.keys():
            continue  # (`in node` is False for a ??? value)
        if OmegaConf.is_missing(node, leaf) or node[leaf] == OmegaConf.select(schema, key, default=object()):
            unset.append(key)
    return unset


def check_job_inputs() -> None:
    """fairseq-hydra-train: a key the YAML leaves ??? (an input: data, sizes) must come from the command
    line; fairseq silently used its default (add_defaults merges over ???). Nothing outside a hydra job."""
    try:
        from hydra.core.global_hydra import GlobalHydra  # late: with fairseq
        from hydra.core.hydra_config import HydraConfig
    except ImportError:
        return
    if not (HydraConfig.initialized() and GlobalHydra.instance().is_initialized()):
        return
    job, loader = HydraConfig.get(), GlobalHydra.instance().config_loader()
    unset = job_unset_keys(job, loader)
    if unset:
        raise InputError(f"{', '.join(unset)}: ??? in --config-name {job.job.config_name} and not set on the "
                         f"command line; expected {' '.join(key + '=VALUE' for key in unset)} (fairseq would silently "
                         "use its default)")


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


def train_modules() -> list:
    """fairseq_cli.train where loaded: by its name (fairseq-train, fairseq-hydra-train), and as __main__
    (python -m fairseq_cli.train); the other commands that import the user dir never load it."""
    main = sys.modules.get("__main__")
    as_main = getattr(getattr(main, "__spec__", None), "name", None) == "fairseq_cli.train"
    return [m for m in (sys.modules.get("fairseq_cli.train"), main if as_main else None) if m is not None]


def install_job_check() -> None:
    """train.main (fairseq-train's and fairseq-hydra-train's job) imports the user dir, then calls
    add_defaults (a global of fairseq_cli.train, looked up when called): wrapped there, where the job's
    configuration is complete. fairseq-train's cli_main imports the user dir, then converts its flags
    (convert_namespace_to_omegaconf): wrapped too."""
    for train in train_modules():
        if getattr(train.add_defaults, "_xtune", False):
            continue
        defaults, convert = train.add_defaults, train.convert_namespace_to_omegaconf

        def add_defaults(cfg, defaults=defaults):
            if uses_xtune(cfg):
                check_job_inputs()
            defaults(cfg)
            check_before_training(cfg)

        def convert_namespace_to_omegaconf(args, convert=convert):  # before fairseq composes the flags
            ours = getattr(args, "task", None) in OUR_TASKS or getattr(args, "criterion", None) == "xtune_consistency"
            if ours and getattr(args, "lr_scheduler", None) == "polynomial_decay":
                check_schedule(getattr(args, "total_num_update", None))
            return convert(args)

        add_defaults._xtune = True
        train.add_defaults = add_defaults
        train.convert_namespace_to_omegaconf = convert_namespace_to_omegaconf


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
    install_job_check()
    install_hydra_one_line()
