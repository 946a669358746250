"""The video families standalone: build, steps, exact resume, samples, export -> load -> sample."""

import io

import numpy as np
import pytest
import torch

from ganops.training.family import BuildContext
from ganops.video.export import load_video_generator, sample_clips
from ganops.video.family import video_families
from ganops.video.options import VideoVariantOptions

CLIP = (8, 1, 16, 16)


class Batches:
    """next_batch over tiny random clips: batch k is a function of k alone (the loop's seeded order)."""

    def __init__(self, start=0, batch_size=4):
        self.count, self.batch_size = start, batch_size

    def __call__(self, stream):
        assert stream == "clips"
        gen = torch.Generator().manual_seed(1000 + self.count)
        self.count += 1
        return {
            "clip": torch.rand(self.batch_size, *CLIP, generator=gen) * 2 - 1,
            "label": torch.randint(10, (self.batch_size,), generator=gen),
        }


def _ctx(arch, seed=0, **options):
    cfg = VideoVariantOptions(arch=arch, width=8, z_dim=8, motion_dim=4, sample_clips=4, **options)
    return BuildContext(cfg, "cpu", {"clips": {"clip": CLIP}}, 10, arch, seed)


def _tensors(state, prefix=""):
    """Every tensor and number of a nested state dict, by dotted key."""
    if isinstance(state, dict):
        return {k: v for key, sub in state.items() for k, v in _tensors(sub, f"{prefix}{key}.").items()}
    if isinstance(state, list | tuple):
        return {k: v for i, sub in enumerate(state) for k, v in _tensors(sub, f"{prefix}{i}.").items()}
    return {prefix: state}


@pytest.fixture
def deterministic():
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(False)


@pytest.mark.parametrize("arch", ["mocogan", "mocogan_st", "vgan"])
def test_steps_give_finite_logs_with_the_declared_keys(arch):
    family = video_families()[arch]
    parts = family.build(_ctx(arch, conditional=True, r1_weight=1.0, n_critic=2))
    batches = Batches()
    for step in range(2):
        logs = family.train_step(parts, batches, step)
        assert set(logs) == set(family.log_keys)
        assert all(v.ndim == 0 and torch.isfinite(v) and not v.requires_grad for v in logs.values())
    assert batches.count == 4  # n_critic batches per step
    assert ("d_image" in family.log_keys) == (arch != "vgan")


@pytest.mark.parametrize("arch", ["mocogan", "mocogan_st", "vgan"])
def test_resume_equals_uninterrupted(arch, deterministic):
    family = video_families()[arch]
    torch.manual_seed(0)
    parts, batches = family.build(_ctx(arch, conditional=True)), Batches()
    for step in range(2):
        family.train_step(parts, batches, step)
    buffer = io.BytesIO()
    torch.save(parts.state_dict(), buffer)
    rng, count = torch.get_rng_state(), batches.count
    continued = family.train_step(parts, batches, 2)

    resumed = family.build(_ctx(arch, seed=99, conditional=True))  # other init: load must overwrite all
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer, weights_only=True), "cpu")
    torch.set_rng_state(rng)
    again = family.train_step(resumed, Batches(start=count), 2)
    assert {k: v.item() for k, v in continued.items()} == {k: v.item() for k, v in again.items()}
    expected, got = _tensors(parts.state_dict()), _tensors(resumed.state_dict())
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        assert torch.equal(value, got[key]) if torch.is_tensor(value) else value == got[key], key


def test_load_state_dict_names_missing_parts():
    parts = video_families()["vgan"].build(_ctx("vgan"))
    with pytest.raises(ValueError, match="missing D_video, G_ema, opt_D, opt_G"):
        parts.load_state_dict({"G": {}}, "cpu")


@pytest.mark.parametrize("arch", ["mocogan", "mocogan_st", "vgan"])
def test_samples_export_load_sample(arch, tmp_path):
    family = video_families()[arch]
    parts = family.build(_ctx(arch, conditional=True))
    family.train_step(parts, Batches(), 0)
    rng = torch.get_rng_state()
    family.save_samples(parts, tmp_path, 7, 0)
    assert torch.equal(rng, torch.get_rng_state())  # samples never touch the global RNG
    assert (tmp_path / "samples.gif").is_file() and (tmp_path / "samples" / "step_000007.gif").is_file()
    G = family.sampler(parts)
    family.export(parts, G, tmp_path)  # the loop's hook: out_dir/generator.pt
    loaded, meta = load_video_generator(tmp_path / "generator.pt")
    assert meta["arch"] == arch and meta["clip_shape"] == list(CLIP) and meta["num_classes"] == 10
    clips = sample_clips(loaded, meta, 5, seed=3, label=7)
    assert clips.shape == (5, *CLIP) and clips.dtype == np.float32 and 0 <= clips.min() <= clips.max() <= 1
    np.testing.assert_array_equal(clips, sample_clips(loaded, meta, 5, seed=3, label=7))
    np.testing.assert_allclose(clips, sample_clips(G, meta, 5, seed=3, label=7), atol=1e-6)
    with pytest.raises(ValueError, match="label 10: no such class"):
        sample_clips(loaded, meta, 2, seed=0, label=10)


def test_load_rejects_foreign_files(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a ganops-video-generator"):
        load_video_generator(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a weights-only torch file"):
        load_video_generator(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="no such file"):
        load_video_generator(tmp_path / "missing.pt")
