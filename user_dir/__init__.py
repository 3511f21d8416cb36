# fairseq's --user-dir entry: the extension's registered classes and its changes to fairseq (checked
# checkpoint reads, flag checks, one-line errors), by one call: xtune_fairseq/fairseq_wiring/install.py
from xtune_fairseq.fairseq_wiring.install import install

install()
