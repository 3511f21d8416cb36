"""xTune (Zheng et al., ACL 2021) as a fairseq extension.

The pure core (consistency, augment/, qa/, text, data/prepared, data/readers, evaluation/, ...)
imports no fairseq (.importlinter lists it; tests/test_architecture.py checks it);
`xtune_fairseq.fairseq_wiring.register` wires it into fairseq's registries, and
`xtune_fairseq.fairseq_wiring.install.install()` makes the extension's other changes to fairseq
(checked checkpoint reads, flag checks, one-line errors); `--user-dir user_dir` does both.
"""
