"""The training loop: outputs, bit-exact resume (test hook and a real SIGKILL), NaN guard, validation."""

import csv
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ganops.config.params import GanConfig, VariantConfig
from ganops.image import family as tg
from ganops.image.export import load_generator, sample_images
from ganops.image.family import train_gan
from ganops.training.data_order import DataOrder
from ganops.training.loop import DivergenceError, TrainingInterrupted

from tiny_training import GAN, cfg, data


def weights(path: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(path, weights_only=True)
    return {f"{m}.{k}": v for m in ("G", "D", "G_ema") for k, v in ckpt[m].items()}


def assert_bit_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_full_run_writes_outputs(tmp_path):
    images, labels = data()
    logged = []
    result = train_gan("v", cfg(), GAN, images, labels, tmp_path / "out", tmp_path / "ck", 0,
                       log=lambda step, values: logged.append((step, values)))  # fmt: skip
    assert result.steps == 6 and result.resumed_from is None and result.device == "cpu"
    assert result.images_per_second > 0 and set(result.losses) == set(tg.LOG_KEYS)
    assert [s for s, _ in logged] == [1, 2, 3, 4, 5, 6]
    rows = list(csv.DictReader((tmp_path / "out/losses.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert float(rows[-1]["loss_d"]) == pytest.approx(logged[-1][1]["loss_d"])
    assert (tmp_path / "out/samples.png").is_file()
    assert sorted(p.name for p in (tmp_path / "out/samples").iterdir()) == [
        "step_000002.png", "step_000004.png", "step_000006.png"
    ]  # fmt: skip
    G, meta = load_generator(tmp_path / "out/generator.pt")
    x = sample_images(G, meta, 5, seed=0)
    assert x.shape == (5, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert not torch.are_deterministic_algorithms_enabled()  # restored afterwards


# wgan_gp + DiffAugment + conditional + n_critic 2 draws from every RNG stream the loop uses.
RESUME_CFG = dict(loss="wgan_gp", n_critic=2, diffaugment=True, conditional=True, num_steps=7, checkpoint_every=2)


def test_resume_after_interruption_is_bit_exact(tmp_path, capsys):
    images, labels = data()
    train_gan("v", cfg(**RESUME_CFG), GAN, images, labels, tmp_path / "a", tmp_path / "ck_a", 0)
    with pytest.raises(TrainingInterrupted):
        train_gan("v", cfg(**RESUME_CFG), GAN, images, labels, tmp_path / "b", tmp_path / "ck_b", 0, stop_after=5)
    assert torch.load(tmp_path / "ck_b/last.pt", weights_only=True)["step"] == 4
    result = train_gan("v", cfg(**RESUME_CFG), GAN, images, labels, tmp_path / "b", tmp_path / "ck_b", 0)
    assert "resuming v from step 4" in capsys.readouterr().out
    assert result.resumed_from == 4 and result.steps == 7
    assert_bit_identical(weights(tmp_path / "ck_a/last.pt"), weights(tmp_path / "ck_b/last.pt"))
    ga = torch.load(tmp_path / "a/generator.pt", weights_only=True)["state_dict"]
    gb = torch.load(tmp_path / "b/generator.pt", weights_only=True)["state_dict"]
    assert_bit_identical(ga, gb)
    # the loss history is the uninterrupted one: rows logged after the checkpoint are not duplicated
    assert (tmp_path / "a/losses.csv").read_text() == (tmp_path / "b/losses.csv").read_text()


KILL_AT_STEP = 7  # one step past the checkpoint at step 6 (checkpoint_every 2), mid-way to the next
KILL_SCRIPT = textwrap.dedent(
    """
    import signal, sys, numpy as np
    from pathlib import Path
    from ganops.config.params import GanConfig, VariantConfig
    from ganops.image.family import train_gan

    def log(step, values):  # called after step `step` is logged, before its checkpoint (if due)
        print(f"logged step {step}", flush=True)
        if step == int(sys.argv[3]):
            signal.pause()  # wait here for the test's SIGKILL

    rng = np.random.default_rng(0)
    images, labels = rng.random((48, 1, 28, 28), dtype=np.float32), rng.integers(0, 3, 48)
    cfg = VariantConfig(arch="dcgan", loss="non_saturating", z_dim=8, width=8, batch_size=8,
                        num_steps=30, checkpoint_every=2, log_every=1, ema_decay=0.9)
    train_gan("v", cfg, GanConfig(device="cpu", deterministic=True), images, labels,
              Path(sys.argv[1]), Path(sys.argv[2]), 0, log=log)
    """
)


def wait_for_line(proc: subprocess.Popen, line: str, timeout_s: float = 120) -> None:
    """Read `proc`'s stdout until `line` (the event); the timeout only guards against a hung child."""
    deadline, seen = time.monotonic() + timeout_s, b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while selector.select(timeout=max(deadline - time.monotonic(), 0)):
            chunk = os.read(proc.stdout.fileno(), 4096)  # unbuffered: select() sees all that is unread
            if not chunk:
                pytest.fail(f"training exited ({proc.wait()}) before printing {line!r}")
            seen += chunk
            if line.encode() in seen.splitlines():
                return
    pytest.fail(f"no {line!r} from the training within {timeout_s} s")


def test_resume_after_sigkill_is_bit_exact(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(tg.__file__).parents[2]), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(script), str(tmp_path / "b"), str(tmp_path / "ck_b"), str(KILL_AT_STEP)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        wait_for_line(proc, f"logged step {KILL_AT_STEP}")  # die mid-way, a step past a checkpoint
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    killed_at = torch.load(tmp_path / "ck_b/last.pt", weights_only=True)["step"]
    assert killed_at == KILL_AT_STEP - 1
    # losses.csv already holds the row of the step past the checkpoint: resume must not repeat it
    assert len((tmp_path / "b/losses.csv").read_text().splitlines()) == 1 + KILL_AT_STEP
    images, labels = data()
    c = cfg(num_steps=30)
    resumed = train_gan("v", c, GAN, images, labels, tmp_path / "b", tmp_path / "ck_b", 0)
    assert resumed.resumed_from == killed_at
    train_gan("v", c, GAN, images, labels, tmp_path / "a", tmp_path / "ck_a", 0)
    assert_bit_identical(weights(tmp_path / "ck_a/last.pt"), weights(tmp_path / "ck_b/last.pt"))
    assert (tmp_path / "a/losses.csv").read_text() == (tmp_path / "b/losses.csv").read_text()


def test_config_change_on_resume_names_the_keys(tmp_path):
    images, labels = data()
    with pytest.raises(TrainingInterrupted):
        train_gan("v", cfg(), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0, stop_after=2)
    with pytest.raises(ValueError, match=r"variant_config.lr_g.*variant_config.z_dim"):
        train_gan("v", cfg(lr_g=1e-3, z_dim=9), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0)
    with pytest.raises(ValueError, match=r"\(seed\)"):
        train_gan("v", cfg(), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 1)
    # schedule keys may change: a longer run continues from the checkpoint
    result = train_gan("v", cfg(num_steps=3), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0)
    assert result.resumed_from == 2 and result.steps == 3


def test_nan_guard_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    real_step = tg.train_step

    def poisoned(tr, next_batch, step):
        values = real_step(tr, next_batch, step)
        if step >= 3:  # the 4th step's loss is NaN
            values[tg.LOSS_D] = values[tg.LOSS_D] * float("nan")
        return values

    monkeypatch.setattr(tg, "train_step", poisoned)
    images, labels = data()
    with pytest.raises(DivergenceError, match=r"v: loss became NaN/inf at step 4") as info:
        train_gan("v", cfg(), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0)
    assert isinstance(info.value, RuntimeError)
    ckpt = torch.load(tmp_path / "ck/last.pt", weights_only=True)
    assert ckpt["step"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["G"].values() if v.is_floating_point())
    assert not (tmp_path / "o/generator.pt").exists()


def test_mlp_minimax_on_small_images_without_ema(tmp_path):
    images, labels = data(size=8)
    c = cfg(arch="mlp", loss="minimax", ema_decay=0.0, num_steps=3, checkpoint_every=10, log_every=2)
    result = train_gan("seed_mlp", c, GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0)
    assert result.steps == 3
    ckpt = torch.load(tmp_path / "ck/last.pt", weights_only=True)
    assert ckpt["step"] == 3 and ckpt["G_ema"] == {}
    exported = torch.load(tmp_path / "o/generator.pt", weights_only=True)["state_dict"]
    assert_bit_identical(exported, ckpt["G"])  # without EMA the exported G is the trained G


def test_inputs_are_validated_before_training(tmp_path):
    images, labels = data()
    no_labels = np.full(len(images), -1)
    with pytest.raises(ValueError, match="is conditional but the data has no labels"):
        train_gan("c", cfg(conditional=True), GAN, images, no_labels, tmp_path / "o", tmp_path / "ck", 0)
    with pytest.raises(ValueError, match="batch_size"):
        train_gan("v", cfg(batch_size=64), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0)
    with pytest.raises(ValueError, match="label_smoothing"):
        train_gan(
            "v",
            cfg(loss="hinge", label_smoothing=0.1),
            GAN,
            images,
            labels,
            tmp_path / "o",
            tmp_path / "ck",
            0,
        )
    assert not (tmp_path / "ck").exists()


@pytest.mark.parametrize(("labelled", "expected"), [(True, True), (False, False)])
def test_conditional_auto_follows_the_labels(tmp_path, labelled, expected):
    """`conditional: auto` (the dcgan / wgan_gp default) trains a conditional G on labelled data and an
    unconditional one on unlabelled data (faces, an unlabelled folder); the export records which."""
    images, labels = data()
    labels = labels if labelled else np.full(len(images), -1)
    train_gan("a", cfg(conditional="auto", num_steps=2), GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0)
    G, meta = load_generator(tmp_path / "o/generator.pt")
    assert meta["variant_config"]["conditional"] is expected
    assert meta["num_classes"] == (3 if expected else 0)
    assert sample_images(G, meta, 4, seed=0).shape == (4, 1, 28, 28)


GPU_CHECK = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


def test_gpu_check_mirrors_variant_config(monkeypatch):
    import dataclasses
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", GPU_CHECK)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_check", module)
    spec.loader.exec_module(module)
    mirror = {f.name: f.default for f in dataclasses.fields(module.Variant)}
    assert mirror == VariantConfig().model_dump()
    options = {f.name: f.default for f in dataclasses.fields(module.GanOptions)}
    assert options == {k: v for k, v in GanConfig().model_dump().items() if k in options}
    if not torch.cuda.is_available():
        monkeypatch.setattr(sys, "argv", ["gpu_check"])
        with pytest.raises(SystemExit, match="no CUDA device visible"):
            module.main()


def test_gpu_check_runs_without_pydantic(tmp_path):
    """The training hot path imports with torch + numpy + pyyaml only (dry run on the CPU)."""
    params = tmp_path / "params.yaml"
    params.write_text(
        "data: {image_size: 28}\n"
        "gan:\n  bf16: false\n  variants:\n"
        "    tiny: {arch: dcgan, loss: wgan_gp, n_critic: 2, width: 8, batch_size: 8, conditional: true}\n"
    )
    blocked = ["pydantic", "mlflow", "dvc", "prefect", "ganops.config.params", "PIL"]
    code = (
        f"import sys; sys.modules.update(dict.fromkeys({blocked!r})); import runpy; "
        f"sys.argv = ['gpu_check', '--device', 'cpu', '--steps', '3', '--params', {str(params)!r}, "
        f"'--data', {str(tmp_path)!r}, '--loop-steps', '0', '--no-ddp']; "
        f"runpy.run_path({str(GPU_CHECK)!r}, run_name='__main__')"
    )
    result = _run_gpu_check_code(code)
    assert "tiny" in result.stdout and "img/s" in result.stdout and "losses ok" in result.stdout


def _run_gpu_check_code(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(tg.__file__).parents[2]), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", code]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_gpu_check_loop_and_ddp_checks(tmp_path):
    """The checks gpu_check runs around the step (here on the CPU): train_gan killed half-way and
    resumed, deterministic resume == uninterrupted, and build_trainer(distributed=True) under a
    one-process gloo group."""
    params = tmp_path / "params.yaml"
    params.write_text(
        "data: {image_size: 28}\n"
        "gan:\n  variants:\n"
        "    tiny: {arch: dcgan, loss: non_saturating, width: 8, batch_size: 8}\n"
    )
    code = (
        f"import sys, runpy; sys.argv = ['gpu_check', '--device', 'cpu', '--steps', '2', "
        f"'--loop-steps', '4', '--params', {str(params)!r}, '--data', {str(tmp_path)!r}]; "
        f"runpy.run_path({str(GPU_CHECK)!r}, run_name='__main__')"
    )
    out = _run_gpu_check_code(code).stdout
    assert "loop tiny deterministic=False: killed at 2, resumed, 4 steps" in out
    assert "resumed == uninterrupted: identical weights" in out
    assert "ddp tiny: backend gloo, 1 process on cpu" in out and "losses ok" in out


@pytest.mark.parametrize(
    "overrides",
    [
        dict(arch="resnet_sn", loss="hinge", conditional=True, r1_weight=1.0, diffaugment=True),
        dict(arch="mlp", loss="least_squares", label_smoothing=0.1, n_critic=2),
        dict(arch="dcgan", loss="minimax", label_smoothing=0.2, ema_decay=0.0),
    ],
)
def test_other_losses_and_architectures_train(tmp_path, overrides):
    images, labels = data(n=24, size=32)
    c = cfg(num_steps=2, checkpoint_every=2, **{"width": 8, **overrides})
    result = train_gan("v", c, GAN, images, labels, tmp_path / "o", tmp_path / "ck", 0)
    assert result.steps == 2 and all(np.isfinite(v) for v in result.losses.values())
    G, meta = load_generator(tmp_path / "o/generator.pt")
    assert sample_images(G, meta, 3, seed=0).shape == (3, 1, 32, 32)


def test_ema_update_averages_parameters_and_copies_buffers():
    from ganops.training.ema import ema_decay_at, make_ema, update_ema

    G = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    G_ema = make_ema(G)
    assert not any(p.requires_grad for p in G_ema.parameters())
    before = G_ema[0].weight.clone()
    with torch.no_grad():
        G[0].weight.add_(1.0)
        G[1].running_mean.fill_(3.0)
    update_ema(G_ema, G, decay=0.99, step=1000)
    torch.testing.assert_close(G_ema[0].weight, before + 0.01)
    assert torch.equal(G_ema[1].running_mean, G[1].running_mean)
    assert ema_decay_at(0.999, 0) == pytest.approx(0.1)  # warm-up: early steps follow G closely
    assert ema_decay_at(0.999, 10**6) == 0.999


def test_compiled_trainer_trains(tmp_path, monkeypatch):
    """gan.compile wraps G and D in torch.compile; the Trainer must not take a compiled module's truth
    value (it calls len(), which OptimizedModule refuses), and a compiled step gives finite losses.

    The real torch.compile (Dynamo graph capture, AOT autograd) with the `aot_eager` backend: Inductor's
    C++ code generation is torch's own concern and costs about two minutes on a slow 2-core CPU."""
    compile_ = torch.compile
    monkeypatch.setattr(torch, "compile", lambda module, **kw: compile_(module, **{**kw, "backend": "aot_eager"}))
    gan = GanConfig(device="cpu", compile=True, channels_last=True)
    variant = cfg(arch="mlp", loss="minimax", width=8, batch_size=8)
    trainer = tg.build_trainer(variant, gan, (1, 28, 28), 0, "cpu")
    assert trainer.G_fwd is not trainer.G and trainer.D_fwd is not trainer.D
    images = torch.rand(16, 1, 28, 28) * 2 - 1
    order = DataOrder(len(images), 8, 0)
    values = tg.train_step(trainer, lambda stream: {"image": images[order.next_indices()]}, 0)
    assert torch.isfinite(values[tg.LOSS_D]) and torch.isfinite(values[tg.LOSS_G])


def test_cudnn_autotune_restores_the_previous_setting():
    from ganops.core.devices import cudnn_autotune

    before = torch.backends.cudnn.benchmark
    with cudnn_autotune(not before):
        assert torch.backends.cudnn.benchmark is (not before)
    assert torch.backends.cudnn.benchmark is before


def test_resumed_optimizer_stays_fused():
    """A checkpoint written before Adam was fused (param groups hold fused=None) resumes fused."""
    from ganops.training.updates import adam, load_optimizer

    weight = torch.nn.Parameter(torch.zeros(3))
    saved = torch.optim.Adam([weight]).state_dict()
    optimizer = adam([weight], 1e-3, (0.5, 0.999))
    load_optimizer(optimizer, saved)
    assert optimizer.param_groups[0]["fused"] is True
