"""dvc.yaml top-level plots: one chart per metric, every variant / detector overlaid, explicit x and y."""

from pathlib import Path

import yaml

from ganops.image.family import LOG_KEYS
from ganops.stages.train_gan import PROBE_CURVES, write_probe_curves

ROOT = Path(__file__).resolve().parents[2]
DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
PLOTS = {next(iter(p)): next(iter(p.values())) for p in DVC["plots"]}


def test_every_curve_plot_declares_x_and_y():
    for plot_id, spec in PLOTS.items():
        assert spec.get("x") and isinstance(spec.get("y"), dict) and spec["y"], plot_id


def test_loss_and_quality_charts_overlay_every_variant():
    variants = set(PARAMS["gan"]["variants"])
    for plot_id, csv in (("gan_loss_g", "losses.csv"), ("gan_loss_d", "losses.csv"),
                         ("gan_probe_fid", PROBE_CURVES), ("gan_probe_is", PROBE_CURVES)):  # fmt: skip
        files = PLOTS[plot_id]["y"]
        assert {Path(f).parent.name for f in files} == variants, plot_id
        assert all(Path(f).name == csv for f in files), plot_id


def test_y_columns_are_the_columns_the_loop_and_probe_write(tmp_path):
    assert {PLOTS["gan_loss_g"]["y"][f] for f in PLOTS["gan_loss_g"]["y"]} == {"loss_g"} <= set(LOG_KEYS)
    assert {PLOTS["gan_loss_d"]["y"][f] for f in PLOTS["gan_loss_d"]["y"]} == {"loss_d"} <= set(LOG_KEYS)
    quality = tmp_path / "quality.csv"
    quality.write_text("step,fid_1k_domain_train,is_1k_domain_train\n10,55.5,2.5\n20,41.0,3.0\n")
    write_probe_curves(quality, tmp_path / PROBE_CURVES, {"fid_1k_domain_train": "fid", "is_1k_domain_train": "is"})
    lines = (tmp_path / PROBE_CURVES).read_text().splitlines()
    assert lines == ["step,fid,is", "10,55.5,2.5", "20,41.0,3.0"]
    assert set(PLOTS["gan_probe_fid"]["y"].values()) == {"fid"} and set(PLOTS["gan_probe_is"]["y"].values()) == {"is"}


def test_roc_chart_overlays_every_detector():
    files = PLOTS["detector_roc"]["y"]
    assert {Path(f).stem for f in files} == set(PARAMS["detector"]["detectors"])
    assert set(files.values()) == {"tpr"} and PLOTS["detector_roc"]["x"] == "fpr"


def test_train_gan_csvs_are_outputs_not_per_variant_charts():
    body = DVC["stages"]["train_gan"]["do"]
    outs = [next(iter(o)) if isinstance(o, dict) else o for o in body["outs"]]
    assert {f"models/gan/${{key}}/{name}" for name in ("losses.csv", "quality.csv", PROBE_CURVES)} <= set(outs)
    assert all(not next(iter(p)).endswith(".csv") for p in body["plots"])
