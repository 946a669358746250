"""`evaluate.networks: [domain, inception]`: config checks, missing-weights CLI error, inception keys."""

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
import yaml

from ganops.config.params import (
    ConfigError,
    DataConfig,
    EvaluateConfig,
    VariantConfig,
    parse_params,
)
from ganops.evaluation import metric_keys as K
from ganops.evaluation.inception import WEIGHTS_NAME, FIDInceptionV3
from ganops.evaluation.metrics import generation_metrics, reference_metrics


def test_networks_default_to_domain_and_are_validated():
    cfg = parse_params({}).evaluate
    assert cfg.networks == ["domain"] and cfg.inception_weights is None
    both = parse_params({"evaluate": {"networks": ["domain", "inception"], "inception_weights": "w.pth"}})
    assert both.evaluate.networks == ["domain", "inception"]
    assert both.evaluate.inception_weights == "w.pth"
    for bad, message in (
        ([], "distinct feature networks"),
        (["inception", "inception"], "distinct feature networks"),
        (["clip"], "evaluate.networks.0"),
    ):
        with pytest.raises(ConfigError, match=message):
            parse_params({"evaluate": {"networks": bad}})


def test_evaluate_gan_without_inception_weights_exits_1_naming_the_file(tmp_path):
    from ganops.data.dataset import load_split
    from ganops.data.prepare import prepare_dataset
    from ganops.evaluation.evaluator import build_evaluator, save_evaluator
    from ganops.image.architectures import build_models
    from ganops.image.export import export_generator

    data = tmp_path / "prepared"
    prepare_dataset(DataConfig(source="digits", max_images=200), 0, data, tmp_path)
    images, _ = load_split(data, "gan_train")
    # untrained: the run stops at the weights check, before any feature is computed (train_evaluator
    # would run MIN_STEPS steps, ~10 s on 2 cores, whatever its epochs)
    evaluator = build_evaluator(tuple(images.shape[1:]), num_classes=10, feature_dim=16)
    save_evaluator(evaluator, tmp_path / "evaluator.pt")
    variant = VariantConfig(arch="mlp", width=8, z_dim=8)
    G, _ = build_models(variant, evaluator.image_shape, 10)
    export_generator(tmp_path / "generator.pt", G, variant, evaluator.image_shape, 10)
    missing = tmp_path / "weights" / WEIGHTS_NAME
    params = {
        "evaluate": {
            "num_images": 100,
            "networks": ["domain", "inception"],
            "inception_weights": str(missing),
        }
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))

    result = subprocess.run(
        [sys.executable, "-m", "ganops.cli.main", "evaluate-gan", "dcgan", "--data", str(data)]
        + ["--evaluator", "evaluator.pt", "--generator", "generator.pt", "--out", "out.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert str(missing) in lines[0] and "does not download" in lines[0]
    assert not (tmp_path / "out.json").exists()


def test_random_inception_gives_finite_inception_keys():
    torch.manual_seed(0)
    net = FIDInceptionV3((1, 8, 8)).eval()
    rng = np.random.default_rng(0)
    fake = rng.random((4, 1, 8, 8), dtype=np.float32)
    real = rng.random((4, 1, 8, 8), dtype=np.float32)
    # num_images ≥ 100 in params; the reference noise set is cut to 4 here to keep the test fast
    cfg = EvaluateConfig(batch_size=8, kid_subsets=2, kid_subset_size=10, is_splits=2).model_copy(
        update={"num_images": 4}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 4 samples for 2048-d features: rank-deficient, as intended
        generated = generation_metrics(net, fake, real, cfg, seed=0)
        reference = reference_metrics(net, real, fake, cfg, seed=0)
    assert set(generated) == {
        K.metric_key(name, 4, K.INCEPTION)
        for name in (K.FID, K.FID_STD, K.KID, K.KID_STD, K.PRECISION, K.RECALL, K.IS, K.IS_STD)
    }  # no class coverage: ImageNet classes say nothing about the domain's modes
    assert "fid_4_inception" in generated and "fid_floor_real_inception" in reference
    assert all(key.endswith("_inception") for key in reference) and len(reference) == 6
    assert all(math.isfinite(value) for value in [*generated.values(), *reference.values()])
    assert generated["fid_4_inception"] >= 0 and generated["is_4_inception"] >= 1 - 1e-6
