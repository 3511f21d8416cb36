"""One exception type for user mistakes: the CLIs print its message, never a traceback."""


class InputError(ValueError):
    """Bad user input; the message names the file (and line) and what was expected."""


class NonFiniteLoss(FloatingPointError):
    """Training produced a NaN/inf loss; fairseq stops before the optimizer step (crash.pt)."""
