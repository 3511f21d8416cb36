"""Gaussian noise on input embeddings (paper 3.2.2), R3F-style."""

import torch

NOISE_KINDS = ("normal", "uniform")


def embedding_noise(
    shape, std: float, kind: str = "normal", generator: torch.Generator = None,
    dtype=torch.float32, device=None,
) -> torch.Tensor:
    """Noise for token embeddings: N(0, std^2), or U(-std, std) for kind='uniform'."""
    if kind == "normal":
        return torch.randn(shape, generator=generator, dtype=dtype, device=device) * std
    if kind == "uniform":
        return (torch.rand(shape, generator=generator, dtype=dtype, device=device) * 2 - 1) * std
    raise ValueError(f"noise kind must be one of {NOISE_KINDS}, got {kind!r}")


def rows_noise(shape, rows: torch.Tensor, std: float, kind: str = "normal", dtype=torch.float32) -> torch.Tensor:
    """Noise of `shape` (batch, time, dim) on the rows where `rows` is true, zero elsewhere."""
    noise = embedding_noise(shape, std, kind, dtype=dtype, device=rows.device)
    return noise * rows.to(noise.dtype).view(-1, *([1] * (len(shape) - 1)))
