"""fairseq-train --wandb-project: one wandb run folder per training, and no HandleAbandonedError
traceback in its debug log (wandb 0.31, offline or online).

fairseq wraps every progress bar (each epoch's training bar, each validation) in
WandBProgressBarWrapper, whose __init__ calls wandb.init(reinit=False). wandb returns the run already
open, but only after it made a new offline-run-* (or run-*) folder, logs/debug.log alone in it, and
pointed wandb/latest-run at that empty folder. And fairseq never finishes its run: at exit wandb's
service hook closes the connection while the run's message loop still waits on it, and the run's
debug.log ends in a HandleAbandonedError traceback. install_wandb_runs: a bar calls wandb.init only
where no run is open (what reinit=False returned anyway), and the run a bar opened is finished at
exit before wandb's own hook runs (atexit: last registered, first run), with the exit code wandb
recorded, so a training that failed is still marked failed."""

import atexit


def install_wandb_runs() -> None:
    from fairseq.logging import progress_bar  # late: fairseq: start-up time (about 3 s)

    wandb = progress_bar.wandb  # None where wandb is not installed: fairseq warns, logs nothing
    wrapper = progress_bar.WandBProgressBarWrapper
    original = wrapper.__init__
    if wandb is None or getattr(original, "_xtune", False):
        return

    def __init__(self, wrapped_bar, wandb_project, run_name=None):
        if wandb.run is not None:  # the run this training opened: no second wandb.init, no empty folder
            self.wrapped_bar = wrapped_bar
            return
        original(self, wrapped_bar, wandb_project, run_name=run_name)
        if wandb.run is not None:
            # registered after wandb's own exit hooks, so run before them; finish() does nothing on a run
            # already finished and takes the exit code wandb recorded
            atexit.register(wandb.run.finish)

    __init__._xtune = True
    wrapper.__init__ = __init__

