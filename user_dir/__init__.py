# fairseq's --user-dir entry; registration lives in the package so it runs once
import xtune_fairseq.fairseq_wiring.register  # noqa: F401
