"""Multi-process data-parallel training: a real 2-process torchrun run on the CPU (gloo backend)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

from ganops.core.distributed import SINGLE, init_from_env
from ganops.image import family as tg
from ganops.training.data_order import DataOrder

# Each rank trains two tiny variants (non_saturating; wgan_gp with n_critic 2, stopped after step 5 by the
# test hook and resumed from its step-4 checkpoint), records its generator exports and `log` calls, and
# saves its final G / D / G_ema weights so the test can compare the ranks.
DDP_SCRIPT = textwrap.dedent(
    """
    import json, sys, numpy as np, torch
    from pathlib import Path
    from ganops.image import family as tg
    from ganops.training.loop import TrainingInterrupted
    from ganops.config.params import GanConfig, VariantConfig
    from ganops.core.distributed import init_from_env, shutdown

    root = Path(sys.argv[1])
    dist = init_from_env("cpu")
    exports, trainers, logged = [], [], []
    real_export, real_build = tg.export_generator, tg.build_trainer
    tg.export_generator = lambda *a, **k: (exports.append(str(a[0])), real_export(*a, **k))[1]
    tg.build_trainer = lambda *a, **k: trainers.append(real_build(*a, **k)) or trainers[-1]
    rng = np.random.default_rng(0)
    images, labels = rng.random((40, 1, 28, 28), dtype=np.float32), rng.integers(0, 3, 40)
    report = {"rank": dist.rank, "world_size": dist.world_size, "device": dist.device,
              "exports": exports, "logged": logged}
    state = {}
    for name, extra in [("ns", {}), ("gp", {"loss": "wgan_gp", "n_critic": 2})]:
        cfg = VariantConfig(arch="dcgan", z_dim=8, width=8, batch_size=4, num_steps=8, checkpoint_every=2,
                            log_every=1, ema_decay=0.9, **extra)
        def run(**k):
            return tg.train_gan(name, cfg, GanConfig(device="cpu"), images, labels, root / name,
                                root / f"ck_{name}", 0, log=lambda s, v: logged.append([name, s]),
                                dist=dist, **k)
        if name == "gp":
            try:
                run(stop_after=5)
            except TrainingInterrupted:
                pass
        result = run()
        report[name] = {"losses": result.losses, "steps": result.steps, "resumed_from": result.resumed_from}
        tr = trainers[-1]
        for module in ("G", "D", "G_ema"):
            for key, value in getattr(tr, module).named_parameters():
                state[f"{name}.{module}.{key}"] = value.detach().clone()
    torch.save(state, root / f"rank{dist.rank}.pt")
    (root / f"rank{dist.rank}.json").write_text(json.dumps(report))
    shutdown()
    """
)


def test_two_process_ddp_on_cpu(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(tg.__file__).parents[2]), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(script), str(tmp_path)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [(r["rank"], r["world_size"], r["device"]) for r in reports] == [(0, 2, "cpu"), (1, 2, "cpu")]
    # rank 0 alone writes and logs: one export per finished run (ns; gp once resumed), none on rank 1
    assert reports[0]["exports"] == [str(tmp_path / "ns/generator.pt"), str(tmp_path / "gp/generator.pt")]
    assert reports[1]["exports"] == [] and reports[1]["logged"] == []
    assert [s for n, s in reports[0]["logged"] if n == "ns"] == list(range(1, 9))
    assert [s for n, s in reports[0]["logged"] if n == "gp"] == [1, 2, 3, 4, 5, 5, 6, 7, 8]
    assert (tmp_path / "ns/generator.pt").is_file() and (tmp_path / "gp/samples.png").is_file()
    for r in reports:
        assert r["ns"]["steps"] == 8 and r["ns"]["resumed_from"] is None
        assert r["gp"]["steps"] == 8 and r["gp"]["resumed_from"] == 4  # every rank resumed
        for name in ("ns", "gp"):
            assert all(torch.isfinite(torch.tensor(v)) for v in r[name]["losses"].values())
    assert reports[0]["gp"]["losses"] == reports[1]["gp"]["losses"]  # averaged over ranks
    ckpt = torch.load(tmp_path / "ck_gp/last.pt", weights_only=True)
    assert ckpt["step"] == 8 and ckpt["config"]["world_size"] == 2
    # gradients are all-reduced: both ranks end with identical G, D and G_ema weights
    a, b = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert a.keys() == b.keys() and any(k.startswith("gp.D.") for k in a)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert all(torch.equal(ckpt["G"][k.removeprefix("gp.G.")], a[k]) for k in a if k.startswith("gp.G."))


def test_data_order_shards_are_disjoint_and_single_process_is_unchanged():
    shards = [DataOrder(10, 2, seed=3, rank=r, world_size=3) for r in range(3)]
    epoch = [torch.cat([s.next_indices() for _ in range(1)]) for s in shards]  # 3 images each: 1 batch
    assert torch.equal(shards[0].perm, shards[2].perm)  # the same permutation on every rank
    assert len(torch.cat(epoch).unique()) == 6
    assert all(len(s.shard) == 3 for s in shards)
    assert len(torch.cat([s.shard for s in shards]).unique()) == 9  # disjoint; the tail image is dropped
    second = [s.next_indices() for s in shards]  # epoch turns together on every rank
    assert all(s.epoch == 1 for s in shards) and len(torch.cat(second).unique()) == 6
    plain, single = DataOrder(10, 4, seed=3), DataOrder(10, 4, seed=3, rank=0, world_size=1)
    assert torch.equal(plain.perm, single.shard) and torch.equal(plain.next_indices(), torch.randperm(
        10, generator=torch.Generator().manual_seed(3))[:4])  # fmt: skip


def test_init_from_env_without_torchrun_is_single_process(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert init_from_env("cpu") == SINGLE and SINGLE.is_main and not SINGLE.enabled
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert init_from_env("cpu") is SINGLE
    assert not torch.distributed.is_initialized()
