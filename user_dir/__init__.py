# fairseq's --user-dir entry; registration lives in the package so it runs once
import xtune_fairseq.register  # noqa: F401
