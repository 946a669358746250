"""params.yaml validation: one line naming the key, exit status 2, before any work."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from ganops.config.params import ConfigError, VariantConfig, load_params, parse_params

REPO = Path(__file__).resolve().parents[2]


def test_repo_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert set(params.gan.variants) == {"seed_mlp", "dcgan", "wgan_gp"}
    assert params.gan.variants["seed_mlp"].loss == "minimax"
    assert params.registry.model_name == "ganops-generator"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"gan": {"variants": {"dcgan": {"lr_g": -0.1}}}}, "gan.variants.dcgan.lr_g"),
        ({"data": {"sourc": "mnist"}}, "unknown key 'data.sourc'"),
        ({"data": {"source": "cifar"}}, "data.source: must be mnist, digits, faces or folder:<path>"),
        ({"evaluator": {"epochs": "many"}}, "evaluator.epochs"),
        ({"data": {"split": {"gan_train": 0.5, "detector_train": 0.2, "test": 0.2}}}, "must sum to 1"),
        ({"data": {"on_bad_image": "ignore"}}, "data.on_bad_image"),
        ({"gan": {"variants": {}}}, "gan.variants: define at least one variant"),
        ({"gan": {"variants": {"bad name!": {}}}}, "may hold only letters"),
        ({"detector": {"real_splits": ["detector_train", "test"]}}, "detector.real_splits"),
        ({"detector": {"real_splits": []}}, "detector.real_splits: must list distinct splits"),
    ],
)
def test_bad_values_name_the_key(raw, expected):
    with pytest.raises(ConfigError) as info:
        parse_params(raw)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_not_yaml_and_not_a_mapping(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_params(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "missing.yaml")


def test_cli_exits_2_with_one_line_before_any_work(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["gan"]["variants"]["dcgan"]["lr_d"] = -1e-4
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run(
        [sys.executable, "-m", "ganops.cli.main", "prepare", "--params", "params.yaml", "--out", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["error: params.yaml: gan.variants.dcgan.lr_d: Input should be greater than 0 (got -0.0001)"]
    assert not (tmp_path / "out").exists()


def test_variant_lr_is_shorthand_for_both_rates():
    """`dvc exp run -S gan.variants.dcgan.lr=1e-4` sets both optimisers' rates; beside lr_g it is an error."""
    both = VariantConfig(lr=1e-4)
    assert (both.lr_g, both.lr_d) == (1e-4, 1e-4)
    assert "lr" not in both.model_dump()
    with pytest.raises(ValidationError, match="remove lr_g or lr"):
        VariantConfig(lr=1e-4, lr_g=3e-4)
    with pytest.raises(ValidationError, match="lr_g"):
        VariantConfig(lr=-1.0)
