"""Killed and resumed equals uninterrupted, through the real shared loop (training.loop.train).

`stop_after` raises inside the loop right after a checkpoint, as a killed run would leave it; a second
call resumes from last.pt. On CPU with gan.deterministic the final weights, optimiser moments, LR
schedule, image pool and exported translator must be bit-identical to one uninterrupted run.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from ganops.training.checkpoint import load_checkpoint
from ganops.training.loop import TrainingInterrupted
from ganops.translation import cyclegan, pix2pix
from ganops.translation.pairs import DomainPair
from ganops.translation.training import train_translator
from ganops.translation.translator_io import TRANSLATOR, load_translator

GAN = SimpleNamespace(device="cpu", deterministic=True, channels_last=False)
LOOP = {"batch_size": 4, "num_steps": 6, "checkpoint_every": 2, "log_every": 1}
SMALL = {"ngf": 4, "ndf": 4, "resnet_blocks": 1, "pool_size": 3, "num_samples": 2,
         "lr_constant_steps": 2, "lr_decay_steps": 4}  # fmt: skip


def _cfg(family):
    return SimpleNamespace(**{**family.DEFAULTS, **SMALL, **LOOP, "family": family.NAME})


def _pair(paired: bool, count: int = 24, size: int = 28) -> DomainPair:
    rng = np.random.default_rng(0)
    a = rng.random((count, 1, size, size), dtype=np.float32)
    b = rng.random((count, 3, size, size), dtype=np.float32)
    labels = rng.integers(0, 10, count)
    return DomainPair(a, b, labels, labels.copy(), paired=paired, class_names=[str(d) for d in range(10)])


def _tensors(state: dict, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor in a nested checkpoint dict, by dotted key."""
    out = {}
    for key, value in state.items():
        if isinstance(value, dict):
            out.update(_tensors(value, f"{prefix}{key}."))
        elif isinstance(value, torch.Tensor):
            out[prefix + str(key)] = value
    return out


def _probe(model, meta):  # deterministic and RNG-free, so the best checkpoint is chosen the same way
    G = model["a2b"] if isinstance(model, torch.nn.ModuleDict) else model
    return {"label_preservation_probe": float(sum(p.detach().abs().sum() for p in G.parameters()) % 1.0)}


@pytest.mark.parametrize("family", [pix2pix, cyclegan])
def test_killed_and_resumed_equals_uninterrupted(family, tmp_path):
    train = _pair(paired=family is pix2pix)
    cfg = _cfg(family)
    kwargs = dict(quality=_probe, quality_key="label_preservation_probe")
    straight = train_translator(family.NAME, cfg, GAN, train, tmp_path / "a", tmp_path / "a_ck", 0, **kwargs)
    # Keep the uninterrupted run's final state: run again with the checkpoint kept (a finished run re-exports).
    with pytest.raises(TrainingInterrupted):
        train_translator(family.NAME, cfg, GAN, train, tmp_path / "b", tmp_path / "b_ck", 0, stop_after=3, **kwargs)
    assert load_checkpoint(tmp_path / "b_ck" / "last.pt")["step"] == 2  # the last checkpoint before the kill
    torch.manual_seed(12345)  # a fresh process would not share the interrupted run's global RNG state
    resumed = train_translator(family.NAME, cfg, GAN, train, tmp_path / "b", tmp_path / "b_ck", 0, **kwargs)
    assert resumed.resumed_from == 2 and resumed.steps == straight.steps == 6
    assert resumed.best_step == straight.best_step

    want = _tensors(load_checkpoint(tmp_path / "a_ck" / "last.pt"))
    got = _tensors(load_checkpoint(tmp_path / "b_ck" / "last.pt"))
    assert want.keys() == got.keys()
    differing = [k for k in want if not torch.equal(want[k], got[k]) and not k.startswith("rng.")]
    assert not differing, differing
    if family is cyclegan:  # the pools were filled and sampled through the resume
        assert any(k.startswith("pool_b.") for k in want)
    gens_a, _ = load_translator(tmp_path / "a" / TRANSLATOR)
    gens_b, _ = load_translator(tmp_path / "b" / TRANSLATOR)
    for direction, G in gens_a.items():
        for (name, x), (_, y) in zip(G.state_dict().items(), gens_b[direction].state_dict().items(), strict=True):
            assert torch.equal(x, y), (direction, name)
    assert (tmp_path / "a" / "losses.csv").read_text() == (tmp_path / "b" / "losses.csv").read_text()


def test_resume_refuses_a_checkpoint_from_another_config(tmp_path):
    train, cfg = _pair(paired=True), _cfg(pix2pix)
    with pytest.raises(TrainingInterrupted):
        train_translator("pix2pix", cfg, GAN, train, tmp_path / "o", tmp_path / "ck", 0, stop_after=2)
    other = SimpleNamespace(**{**vars(cfg), "lambda_l1": 10.0})
    with pytest.raises(ValueError, match=r"different settings \(variant_config.lambda_l1\)"):
        train_translator("pix2pix", other, GAN, train, tmp_path / "o", tmp_path / "ck", 0)


def test_pix2pix_refuses_an_unpaired_source(tmp_path):
    with pytest.raises(ValueError, match="pix2pix trains on pairs"):
        train_translator("pix2pix", _cfg(pix2pix), GAN, _pair(paired=False), tmp_path, tmp_path / "ck", 0)
