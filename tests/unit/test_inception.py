"""The optional FID Inception-v3: never downloads, checks the sha256, loads pytorch-fid's layout."""

import hashlib

import pytest
import torch

from ganops.evaluation import inception
from ganops.evaluation.inception import WEIGHTS_NAME, FIDInceptionV3, find_weights, load_inception


def test_missing_weights_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    expected = tmp_path / "torch" / "hub" / "checkpoints" / WEIGHTS_NAME
    with pytest.raises(FileNotFoundError, match="does not download") as info:
        find_weights()
    assert str(expected) in str(info.value)
    with pytest.raises(FileNotFoundError, match="not found at"):
        load_inception((1, 28, 28), path=tmp_path / "nowhere.pth")


def test_wrong_file_is_refused_by_its_sha256(tmp_path):
    fake = tmp_path / WEIGHTS_NAME
    fake.write_bytes(b"definitely not inception weights")
    with pytest.raises(ValueError, match="does not start with 6726825d"):
        find_weights(tmp_path)  # a folder holding the file works too


def test_architecture_matches_the_published_layout_and_loads(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = FIDInceptionV3((1, 28, 28)).eval()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 94  # torchvision's Inception3 without the auxiliary head
    assert model.fc.weight.shape == (1008, 2048)
    path = tmp_path / WEIGHTS_NAME
    torch.save(model.state_dict(), path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setattr(inception, "WEIGHTS_SHA256_PREFIX", digest[:8])
    loaded = load_inception((1, 28, 28), path=path)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    with torch.no_grad():
        features, logits = loaded.features_and_logits(torch.rand(1, 1, 28, 28))  # gray -> RGB, 299×299
    assert features.shape == (1, 2048) and logits.shape == (1, 1008)
    assert (features >= 0).all()  # pool3 of ReLU maps
