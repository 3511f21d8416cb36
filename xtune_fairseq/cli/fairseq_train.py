"""fairseq-train where --bf16 means bfloat16 on this machine's CPU or GPU.

fairseq 0.12's option parser turns --bf16 (and --memory-efficient-bf16) into --tpu as well, and with
--tpu the trainer asks torch_xla for its device: without torch_xla every --bf16 run stops with
`'NoneType' object has no attribute 'xla_device'`, on a GPU as on the CPU. This entry point keeps
--tpu only where it was given; everything else is fairseq_cli.train. xtune-pipeline --bf16 runs it:

  python -m xtune_fairseq.cli.fairseq_train DATA --user-dir user_dir ... --bf16
"""

import sys


def keep_bf16_off_tpu(parse, argv):
    """fairseq's parse_args_and_arch, then --tpu only if argv asks for it."""

    def parse_args_and_arch(*args, **kwargs):
        namespace = parse(*args, **kwargs)
        if getattr(namespace, "bf16", False) and "--tpu" not in argv:
            namespace.tpu = False
        return namespace

    parse_args_and_arch.xtune_bf16 = True
    return parse_args_and_arch


def main():
    from fairseq import options  # late: fairseq: start-up time (about 3 s)
    from fairseq_cli import train  # late: fairseq: start-up time

    if not getattr(options.parse_args_and_arch, "xtune_bf16", False):
        options.parse_args_and_arch = keep_bf16_off_tpu(options.parse_args_and_arch, sys.argv[1:])
    train.cli_main()  # reads options.parse_args_and_arch when called


if __name__ == "__main__":
    main()
