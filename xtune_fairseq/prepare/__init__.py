"""The data writers, as a library with plain Python APIs (the commands in cli/ only parse flags and
call them): a prepared data directory per task kind (classification.py, tagging.py, qa.py), from
XTREME's downloads (xtreme.py), binarized views (views.py), the tiny model and its data
(tiny_model.py), the teacher cache (teacher_cache.py).

`from xtune_fairseq.prepare import preprocess` loads only the module that defines it: the text writers
start without torch and fairseq (3-4 s), which load when a step needs them (binarizing, views, the
teacher cache, the tiny model)."""

import importlib
from typing import TYPE_CHECKING

_MODULE = {  # name -> the module of this package that defines it
    "preprocess": "classification", "write_classification": "classification",
    "preprocess_qa": "qa", "write_qa": "qa",
    "preprocess_tagging": "tagging", "write_tagging": "tagging",
    "build_cache": "teacher_cache", "write_cache": "teacher_cache",
    "build_tiny_model": "tiny_model", "make_tiny_model": "tiny_model", "write_generated": "tiny_model",
    "write_binarized_views": "views",
    "preprocess_xtreme": "xtreme",
}
__all__ = sorted(_MODULE)


def __getattr__(name: str):
    if name not in _MODULE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE[name]}"), name)
    globals()[name] = value  # found once
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the same names for type checkers and import-linter's layer contracts
    from xtune_fairseq.prepare.classification import preprocess, write_classification  # noqa: F401
    from xtune_fairseq.prepare.qa import preprocess_qa, write_qa  # noqa: F401
    from xtune_fairseq.prepare.tagging import preprocess_tagging, write_tagging  # noqa: F401
    from xtune_fairseq.prepare.teacher_cache import build_cache, write_cache  # noqa: F401
    from xtune_fairseq.prepare.tiny_model import build_tiny_model, make_tiny_model, write_generated  # noqa: F401
    from xtune_fairseq.prepare.views import write_binarized_views  # noqa: F401
    from xtune_fairseq.prepare.xtreme import preprocess_xtreme  # noqa: F401
