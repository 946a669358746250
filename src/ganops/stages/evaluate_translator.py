"""The `evaluate_translator@VARIANT` stage: label preservation, FID/KID, paired fidelity and cycle error
of one translator on the test split, with its floor / ceiling / did-nothing rows (translation.evaluation).

The numbers go to metrics/translation/VARIANT.json (DVC), to this run, and to the translator's own MLflow
LoggedModel (the candidate train_translator logged, found by its weights' sha256).
"""

from __future__ import annotations

from pathlib import Path

from ganops.config.params import Params
from ganops.core import atomic
from ganops.core.devices import pick_device
from ganops.data.dataset import load_manifest
from ganops.evaluation.evaluator import load_evaluator
from ganops.tracking import candidates
from ganops.tracking import runs as tracking
from ganops.tracking.translator_model import TRANSLATOR as TRANSLATOR_CODE
from ganops.translation.evaluation import evaluate_translation
from ganops.translation.oracles import best_possible
from ganops.translation.prepared import load_translation_split
from ganops.translation.translator_io import load_translator


def run(cfg: Params, variant: str, data: Path, evaluator: Path, translator: Path, out: Path) -> dict[str, float]:
    device = pick_device(cfg.gan.device)
    generators, meta = load_translator(translator, device=device)
    manifest = load_manifest(data)
    if list(meta["shape_a"]) != manifest["shape_a"] or list(meta["shape_b"]) != manifest["shape_b"]:
        raise ValueError(
            f"{translator}: made for A {meta['shape_a']} → B {meta['shape_b']} images, but {data} holds "
            f"A {manifest['shape_a']} → B {manifest['shape_b']}; retrain it (`dvc repro train_translator@{variant}`)"
        )
    test, other = load_translation_split(data, "test"), load_translation_split(data, "detector_train")
    ceiling = (
        best_possible(manifest["source"], load_translation_split(data, "gan_train"), test.a) if test.paired else None
    )
    t = cfg.translation
    params_used = {"seed": cfg.seed, "kid_subsets": t.kid_subsets, "kid_subset_size": t.kid_subset_size}
    tags = {"variant": variant, "family": meta["family"]}
    with tracking.stage_run("evaluate_translator", cfg.registry.experiment, params_used, tags):
        model_id = candidates.candidate_id("translator", variant, translator, TRANSLATOR_CODE,
                                           {"variant": meta.get("variant_config", {})})  # fmt: skip
        metrics = evaluate_translation(
            generators, load_evaluator(evaluator, device=device), test, other.b, subsets=t.kid_subsets,
            subset_size=t.kid_subset_size, seed=cfg.seed, best_possible=ceiling, device=device,
        )  # fmt: skip
        atomic.write_json(out, metrics)
        candidates.log_model_metrics(model_id, metrics)
    return metrics
