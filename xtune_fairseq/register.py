"""Registers the model `xlmr_xtune`, the task `xtune_classification` and the criterion
`xtune_consistency` with fairseq; importing it twice is harmless (modules load once)."""

from xtune_fairseq.checkpoints import install_allowlist

install_allowlist()

import xtune_fairseq.criterions.xtune_consistency  # noqa: E402,F401
import xtune_fairseq.models.xlmr_xtune  # noqa: E402,F401
import xtune_fairseq.tasks.xtune_classification  # noqa: E402,F401
