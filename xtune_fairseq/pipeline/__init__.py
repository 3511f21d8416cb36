"""The xTune pipeline as a library: both stages with fairseq-train, then the evaluation.

    from xtune_fairseq.pipeline import PipelineConfig, run_pipeline

    cfg = PipelineConfig.from_recipe("xnli", model_dir="xlmr", data="bin", out="runs/xnli", epochs=2)
    results = run_pipeline(cfg)  # {"stage1": {...}, "stage2": {...}}; stage1/, stage2/, results.json in out

config.py    PipelineConfig (one field per xtune-pipeline flag), the recipes' presets, parse_flags
checks.py    the settings' checks (one-line InputErrors)
schedule.py  training rows, batches, updates, warm-up, data-parallel processes
commands.py  each stage's fairseq-train command, runtime and logging flags
reuse.py     stageK/fingerprint.json: a finished stage reused only if trained the same way
run.py       run_pipeline, run_stage, the run folder and its results files
xtune-pipeline (cli/pipeline.py) parses the flags into a PipelineConfig and calls run_pipeline."""

from xtune_fairseq.pipeline.config import PipelineConfig, parse_flags, recipe_presets
from xtune_fairseq.pipeline.run import results_stem, run_pipeline, run_stage

__all__ = ["PipelineConfig", "parse_flags", "recipe_presets", "results_stem", "run_pipeline", "run_stage"]
