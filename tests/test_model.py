"""xlmr_xtune: restores the pretrained encoder, and embedding noise reaches the encoder."""

import os
import shutil

import pytest
import torch

from conftest import make_task
from xtune_fairseq.fairseq_wiring.checkpoints import safe_load
from xtune_fairseq.core.errors import InputError


@pytest.fixture(scope="module")
def model_and_batch(tiny):
    task, cfg = make_task(tiny, "--dropout", "0", "--attention-dropout", "0", "--pooler-dropout", "0")
    model = task.build_model(cfg.model).eval()
    task.load_dataset("valid")
    ds = task.dataset("valid").dataset
    batch = ds.collater([ds[i] for i in range(4)])
    return task, model, batch


def test_encoder_restored_from_pretrained_dir(tiny, model_and_batch):
    _, model, _ = model_and_batch
    pretrained = safe_load(os.path.join(tiny["model"], "model.pt"))["model"]
    ours = model.state_dict()
    enc = [k for k in pretrained if k.startswith("encoder.sentence_encoder.")]
    assert enc and all(torch.equal(ours[k], pretrained[k]) for k in enc)


def test_noise_changes_encoder_output_and_zero_noise_does_not(model_and_batch):
    _, model, batch = model_and_batch
    tokens = batch["net_input"]["src_tokens"]
    head = "sentence_classification_head"
    dim = model.encoder.sentence_encoder.embed_tokens.embedding_dim
    with torch.no_grad():
        clean = model(tokens, classification_head_name=head)[0]
        zero = model(tokens, classification_head_name=head, embedding_noise=torch.zeros(*tokens.shape, dim))[0]
        noisy = model(tokens, classification_head_name=head, embedding_noise=torch.randn(*tokens.shape, dim) * 0.5)[0]
        feats = model(tokens, features_only=True)[0]
        feats_noisy = model(tokens, features_only=True, embedding_noise=torch.randn(*tokens.shape, dim) * 0.5)[0]
    assert torch.allclose(clean, zero, atol=1e-6)
    assert not torch.allclose(clean, noisy, atol=1e-3)
    assert not torch.allclose(feats, feats_noisy, atol=1e-3)


@pytest.mark.parametrize("missing", ["model.pt", "dict.txt", "sentencepiece.bpe.model"])
def test_model_dir_missing_a_file(tiny, tmp_path, missing):
    broken = tmp_path / "model"
    shutil.copytree(tiny["model"], broken)
    os.remove(broken / missing)
    task, cfg = make_task(tiny, "--pretrained-dir", str(broken))
    with pytest.raises(InputError, match=f"lacks {missing}"):
        task.build_model(cfg.model)
