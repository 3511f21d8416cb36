"""What every CLI shares: user mistakes end with one clear line, not a traceback."""

import logging
import sys
import warnings

from xtune_fairseq.errors import InputError


def run_cli(fn) -> int:
    warnings.filterwarnings("ignore")  # fairseq's hydra / autocast deprecation chatter
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        fn()
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
