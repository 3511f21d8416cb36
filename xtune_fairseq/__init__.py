"""xTune (Zheng et al., ACL 2021) as a fairseq extension.

The pure core (consistency, augment/, text, data/readers, evaluation/) imports no fairseq;
`xtune_fairseq.register` wires it into fairseq's registries (what `--user-dir user_dir` loads).
"""
