"""Registers the model `xlmr_xtune`, the tasks `xtune_classification`, `xtune_sequence_labeling`
and `xtune_span_extraction`, and the criterion `xtune_consistency` with fairseq's registries, as
fairseq's own modules do: by importing them. Importing it twice is harmless (modules load once).
It patches nothing: the changes `--user-dir user_dir` also makes are `install.install()`."""

import xtune_fairseq.fairseq_wiring.criterions.xtune_consistency  # noqa: F401
import xtune_fairseq.fairseq_wiring.models.xlmr_xtune  # noqa: F401
import xtune_fairseq.fairseq_wiring.tasks.xtune_classification  # noqa: F401
import xtune_fairseq.fairseq_wiring.tasks.xtune_sequence_labeling  # noqa: F401
import xtune_fairseq.fairseq_wiring.tasks.xtune_span_extraction  # noqa: F401
