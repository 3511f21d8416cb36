"""xtune-pipeline: the two-stage xTune recipe with fairseq-train, then evaluation.

stage 1: task loss + lambda1 R1(D, A*), best checkpoint by mean dev accuracy over languages
stage 2: restart from the pretrained model; task loss on D_A = D + A(D)
         + lambda1 R1(D_A, A') + lambda2 R2 against the frozen stage-1 best checkpoint
then:    per-language test accuracy of both stages (results.json, results.md)
A stage whose folder holds DONE is skipped, an unfinished one resumed, if stageK/fingerprint.json agrees.
"""

import argparse

from xtune_fairseq.cli.common import run_cli
from xtune_fairseq.pipeline import PipelineConfig, config, run_pipeline


def build_parser() -> argparse.ArgumentParser:
    """One flag per PipelineConfig field (xtune_fairseq/pipeline/config.py), with its default, help and choices."""
    return config.build_parser(description=__doc__)


def parse(argv=None) -> PipelineConfig:
    """The flags as a checked PipelineConfig, --recipe's presets under the explicit flags."""
    return config.parse_flags(argv, build_parser())


def main(argv=None):
    return run_cli(lambda: run_pipeline(parse(argv)))  # parse's InputErrors too end with one line


if __name__ == "__main__":
    raise SystemExit(main())
