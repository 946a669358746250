"""The generator pyfunc's label handling, in process (the served model is tested in tests/integration)."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from ganops.config.params import VariantConfig
from ganops.image.architectures import build_models
from ganops.image.export import export_generator, load_generator, sample_images


@pytest.fixture
def conditional_model(tmp_path):
    from ganops.tracking.generator_pyfunc import GeneratorModel

    torch.manual_seed(0)
    cfg = VariantConfig(arch="dcgan", conditional=True, z_dim=8, width=8)
    G, _ = build_models(cfg, (1, 28, 28), 3)
    for module in G.modules():  # a class signal (ClassAffine starts as the identity)
        if hasattr(module, "gain") and isinstance(module.gain, torch.nn.Embedding):
            torch.nn.init.normal_(module.bias.weight)
    export_generator(tmp_path / "g.pt", G, cfg, (1, 28, 28), 3)
    model = GeneratorModel()
    model.load_context(SimpleNamespace(artifacts={"generator": str(tmp_path / "g.pt")}))
    return model, tmp_path / "g.pt"


def test_rows_without_label_draw_class_seed_mod_classes(conditional_model):
    model, path = conditional_model
    G, meta = load_generator(path)
    out = model.predict(None, pd.DataFrame({"seed": [0, 1, 2, 3, 7]}))
    for row, seed in enumerate([0, 1, 2, 3, 7]):
        expected = sample_images(G, meta, 1, seed=seed, labels=np.array([seed % 3]))
        np.testing.assert_array_equal(out[row : row + 1], expected)
    assert not np.array_equal(out[0], out[1])  # seeds 0 and 1: different classes, not all class 0


def test_label_column_wins_and_bad_labels_are_one_line_errors(conditional_model):
    from mlflow.exceptions import MlflowException

    model, path = conditional_model
    G, meta = load_generator(path)
    out = model.predict(None, pd.DataFrame({"seed": [5, 5], "label": [2, 0]}))
    np.testing.assert_array_equal(out[:1], sample_images(G, meta, 1, seed=5, labels=np.array([2])))
    np.testing.assert_array_equal(out[1:], sample_images(G, meta, 1, seed=5, labels=np.array([0])))
    with pytest.raises(MlflowException, match="class ids must be in 0..2"):
        model.predict(None, pd.DataFrame({"seed": [1], "label": [3]}))


def test_logged_conditional_generator_takes_seed_only_or_seed_and_label(store_repo, conditional_model):
    """Through a real SQLite MLflow store: the logged signature makes `label` optional (an inferred one
    required it, and `predict(DataFrame({"seed": ...}))`, the README's first example, failed)."""
    import mlflow

    from ganops.tracking import runs as tracking
    from ganops.tracking.candidates import log_candidate
    from ganops.tracking.generator_model import GENERATOR

    model, path = conditional_model
    with tracking.stage_run("train_gan", "ganops-test", {}, {"variant": "c"}):
        model_id = log_candidate("generator", "c", path, GENERATOR, {})
    served = mlflow.pyfunc.load_model(f"models:/{model_id}")
    seeds_only = served.predict(pd.DataFrame({"seed": range(4)}))
    np.testing.assert_array_equal(seeds_only, model.predict(None, pd.DataFrame({"seed": range(4)})))
    sevens = served.predict(pd.DataFrame({"seed": range(2), "label": 2}))
    np.testing.assert_array_equal(sevens, model.predict(None, pd.DataFrame({"seed": range(2), "label": [2, 2]})))
