"""xlmr_xtune: restores the pretrained encoder, and embedding noise reaches the encoder."""

import os
import shutil

import pytest
import torch

from conftest import make_task
from xtune_fairseq.core.augment.gaussian_noise import noised_embeddings
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
    """GN's noise reaches the encoder through noised_embeddings, exactly as embed(tokens) + noise
    handed to fairseq's extract_features as token_embeddings; outside the block the model is clean."""
    _, model, batch = model_and_batch
    tokens = batch["net_input"]["src_tokens"]
    head = "sentence_classification_head"
    embed = model.encoder.sentence_encoder.embed_tokens
    noise = torch.randn(*tokens.shape, embed.embedding_dim) * 0.5
    with torch.no_grad():
        clean = model(tokens, classification_head_name=head)[0]
        with noised_embeddings(embed, torch.zeros_like(noise)):
            zero = model(tokens, classification_head_name=head)[0]
        with noised_embeddings(embed, noise):
            noisy = model(tokens, classification_head_name=head)[0]
            feats_noisy = model(tokens, features_only=True)[0]
        feats = model(tokens, features_only=True)[0]
        by_hand = model.encoder.extract_features(tokens, token_embeddings=embed(tokens) + noise)[0]
        again = model(tokens, classification_head_name=head)[0]
    assert torch.equal(clean, zero) and torch.equal(clean, again)
    assert not torch.allclose(clean, noisy, atol=1e-3)
    assert not torch.allclose(feats, feats_noisy, atol=1e-3)
    assert torch.equal(feats_noisy, by_hand)
    with pytest.raises(ValueError, match="embedding noise of shape"), noised_embeddings(embed, noise[:, :-1]):
        model(tokens, features_only=True)


@pytest.mark.parametrize("missing", ["model.pt", "dict.txt", "sentencepiece.bpe.model"])
def test_model_dir_missing_a_file(tiny, tmp_path, missing):
    broken = tmp_path / "model"
    shutil.copytree(tiny["model"], broken)
    os.remove(broken / missing)
    task, cfg = make_task(tiny, "--pretrained-dir", str(broken))
    with pytest.raises(InputError, match=f"lacks {missing}"):
        task.build_model(cfg.model)
