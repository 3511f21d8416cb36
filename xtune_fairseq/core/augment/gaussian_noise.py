"""Gaussian noise on input embeddings (paper 3.2.2), R3F-style: the kind (its flags and views) and
its noise, all of it. A GN view is the unchanged input; which rows of a batch are GN views follows
from the flags (noise_rows: the augmented copies under --data-augmentation gn, the R1 partners under
--r1-augmentation gn); the criterion draws their noise here (views_noise) and adds it to the word
embeddings of the student's (and R2's teacher's) forward pass with noised_embeddings: no view,
dataset, batch, model or task carries it."""

import contextlib
from dataclasses import dataclass, field

from xtune_fairseq.core.augment.registry import Augmentation, choice_enum, get_augmentation, register_augmentation

NOISE_KINDS = ("normal", "uniform")


@dataclass
class GaussianNoiseFlags:
    noise_std: float = field(default=1e-5, metadata={"help": "Gaussian noise scale on word embeddings"})
    noise_kind: choice_enum(NOISE_KINDS) = field(
        default="uniform",
        metadata={"help": "noise distribution: uniform U(-std, std) (the authors' default, as R3F) or normal"},
    )


@register_augmentation("gn")
class GaussianNoise(Augmentation):
    description = "Gaussian noise on the word embeddings of the unchanged input (GN)"
    flags = GaussianNoiseFlags
    noise = True
    strength_flag = "noise_std"

    def sentence_view(self, maker, example, orig, rng):
        return orig  # the noise is added to its embeddings in the forward pass (noise_rows)

    def words_view(self, maker, example, orig, rng):
        return orig

    def qa_view(self, maker, example, orig, rng):
        return orig


def noise_rows(cfg, is_aug, with_partners: bool):
    """(rows,) bool: the rows of a batch that are views of a noise kind: its input rows (is_aug, (B,)
    bool: the augmented copies), then, with_partners, their R1 partners; by the task config `cfg`'s
    --data-augmentation (the copies' kind) and --r1-augmentation (every partner's kind)."""
    import torch  # late: torch: start-up time

    rows = is_aug & bool(get_augmentation(cfg.data_augmentation).noise)
    if with_partners:
        rows = torch.cat([rows, torch.full_like(is_aug, bool(get_augmentation(cfg.r1_augmentation).noise))])
    return rows


def views_noise(cfg, shape, rows):
    """GN for a batch: noise of `shape` (rows, tokens, dim) on the rows whose flag in `rows` is set
    (the views of a noise kind), with --noise-std and --noise-kind of the task config `cfg`."""
    return rows_noise(shape, rows, cfg.noise_std, cfg.noise_kind)


def embedding_noise(shape, std: float, kind: str = "normal", generator=None, dtype=None, device=None):
    """Noise for token embeddings: N(0, std^2), or U(-std, std) for kind='uniform' (float32 by default)."""
    import torch  # late: torch: start-up time

    dtype = torch.float32 if dtype is None else dtype
    if kind == "normal":
        return torch.randn(shape, generator=generator, dtype=dtype, device=device) * std
    if kind == "uniform":
        return (torch.rand(shape, generator=generator, dtype=dtype, device=device) * 2 - 1) * std
    raise ValueError(f"noise kind must be one of {NOISE_KINDS}, got {kind!r}")


def rows_noise(shape, rows, std: float, kind: str = "normal", dtype=None):
    """Noise of `shape` (batch, time, dim) on the rows where `rows` is true, zero elsewhere."""
    noise = embedding_noise(shape, std, kind, dtype=dtype, device=rows.device)
    return noise * rows.to(noise.dtype).view(-1, *([1] * (len(shape) - 1)))


@contextlib.contextmanager
def noised_embeddings(embed_tokens, noise):
    """While the block runs, `noise` (batch, time, dim) is added to the output of the word-embedding
    module `embed_tokens` (before positions and any scaling: `embed(tokens) + noise`); None adds
    nothing. The module must be called once, on a batch of noise's shape."""
    if noise is None:
        yield
        return

    def add(module, inputs, output):
        if output.shape != noise.shape:
            raise ValueError(f"embedding noise of shape {tuple(noise.shape)} for embeddings of shape {tuple(output.shape)}")
        return output + noise.to(output.dtype)

    handle = embed_tokens.register_forward_hook(add)
    try:
        yield
    finally:
        handle.remove()
