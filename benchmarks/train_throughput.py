"""Training throughput: the ganops training step vs a minimal plain-PyTorch loop, side by side.

Both loops train the same model (built by ganops.image.architectures), with the same batch size, optimiser
and loss, on the same in-memory data, in one process; timed runs alternate so machine load hits both
alike, and the best of `--repeats` runs of each is kept. The ganops side is the real `train_gan` hot
loop (`train_step` + data order + the non-finite guard, checked as often as train_gan checks it),
without checkpoints or logging. The plain loop is always fp32 with torch's defaults; on CUDA the
ganops side is what train_gan runs there (fused Adam, cuDNN autotuning) and also runs with the `gan`
speed options (bf16 autocast, channels_last, torch.compile), each a separate mode, so a CUDA ratio
measures those choices too. Peak memory is each mode's own: the peak during its warm-up minus what
was allocated (by every loop's models) before it.

Goals: ratio >= 0.95 on CPU (fp32 vs fp32: our code adds no overhead); on GPU the fast modes ahead
of the plain fp32 loop.

    PYTHONPATH=src python benchmarks/train_throughput.py [--device cuda] [--arch dcgan --size 64 ...]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from ganops.image.architectures import build_models
from ganops.image.family import LOG_KEYS, LOSS_G, build_trainer, train_step
from ganops.training.data_order import DataOrder
from ganops.training.guard import NonFiniteGuard

# mode name -> the `gan` speed options the ganops loop runs with (bf16 and channels_last: CUDA only)
MODES = {
    "fp32": dict(bf16=False, channels_last=False, compile=False),
    "bf16": dict(bf16=True, channels_last=False, compile=False),
    "bf16+cl": dict(bf16=True, channels_last=True, compile=False),
    "bf16+compile": dict(bf16=True, channels_last=False, compile=True),
    "bf16+cl+compile": dict(bf16=True, channels_last=True, compile=True),
    # torch.compile(mode="reduce-overhead"): CUDA graphs replay each compiled forward/backward
    "bf16+cl+compile-cg": dict(bf16=True, channels_last=True, compile=True, compile_mode="reduce-overhead"),
    "fp32+compile-cg": dict(bf16=False, channels_last=False, compile=True, compile_mode="reduce-overhead"),
}
GUARD_EVERY_CUDA = 25  # train_gan checks the non-finite flag every log_every (default 25) steps on CUDA


def variant(args: argparse.Namespace) -> SimpleNamespace:
    return SimpleNamespace(
        arch=args.arch, loss=args.loss, conditional=False, z_dim=args.z_dim, width=args.width,
        batch_size=args.batch_size, num_steps=args.steps, n_critic=1, lr_g=2e-4, lr_d=2e-4, beta1=0.5,
        beta2=0.999, gp_weight=10.0, r1_weight=0.0, label_smoothing=0.0, ema_decay=args.ema,
        diffaugment=False, checkpoint_every=10**9, log_every=10**9,
    )  # fmt: skip


def plain_loop(cfg: SimpleNamespace, x: torch.Tensor) -> Callable[[], torch.Tensor]:
    """The PyTorch DCGAN example's loop: one fake batch per step, D on real/fake.detach(), then G.
    Returns one training step (fp32, default memory format, eager)."""
    torch.manual_seed(0)
    device = x.device
    G, D = (m.to(device) for m in build_models(cfg, tuple(x.shape[1:]), 0))
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    G_ema = None
    if cfg.ema_decay > 0:
        G_ema = build_models(cfg, tuple(x.shape[1:]), 0)[0].to(device).requires_grad_(False)
    B = cfg.batch_size
    ones, zeros = torch.ones(B, device=device), torch.zeros(B, device=device)

    def step() -> torch.Tensor:
        real = x[torch.randint(len(x), (B,), device=device)]
        fake = G(torch.randn(B, cfg.z_dim, device=device))
        loss_d = F.binary_cross_entropy_with_logits(D(real), ones)
        loss_d = loss_d + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.binary_cross_entropy_with_logits(D(fake), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if G_ema is not None:
            with torch.no_grad():
                for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
                    p_ema.lerp_(p, 1 - cfg.ema_decay)
        return loss_g

    return step


def ganops_loop(cfg: SimpleNamespace, x: torch.Tensor, mode: str) -> Callable[[], torch.Tensor]:
    """train_gan's loop body: DataOrder batches, train_step (D, G, EMA), the non-finite guard."""
    torch.manual_seed(0)
    device = x.device.type
    gan = SimpleNamespace(**MODES[mode])
    tr = build_trainer(cfg, gan, tuple(x.shape[1:]), 0, device)
    if gan.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    order = DataOrder(len(x), cfg.batch_size, 0, device=device)
    guard_every = 1 if device == "cpu" else GUARD_EVERY_CUDA
    guard = NonFiniteGuard(device, LOG_KEYS)
    state = {"step": 0}

    def next_batch(stream: str) -> dict[str, torch.Tensor]:
        return {"image": x[order.next_indices()]}

    def step() -> torch.Tensor:
        values = train_step(tr, next_batch, state["step"])
        state["step"] += 1
        guard.update(values, state["step"])
        if state["step"] % guard_every == 0 and (bad := guard.first_bad()) is not None:
            raise RuntimeError(f"non-finite loss at step {bad}")
        return values[LOSS_G]

    return step


def measure(step: Callable[[], torch.Tensor], steps: int, batch_size: int) -> float:
    """img/s over `steps` calls of `step`; the device is synchronised before and after the clock."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    float(loss.detach())  # waits for the device's queue
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--modes", default="", help=f"comma-separated of {', '.join(MODES)} "
                        "(default: fp32 on CPU, all on CUDA)")  # fmt: skip
    parser.add_argument("--arch", default="dcgan")
    # The plain loop is written for one loss, the PyTorch DCGAN example's BCE.
    parser.add_argument("--loss", default="non_saturating", choices=["non_saturating"])
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--z-dim", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ema", type=float, default=0.999, help="EMA decay in both loops; 0 disables")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is visible")
    modes = [m for m in args.modes.split(",") if m] or (list(MODES) if args.device == "cuda" else ["fp32"])
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        parser.error(f"--modes: unknown {unknown}; choose from {', '.join(MODES)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = variant(args)
    x = torch.rand(2000, args.channels, args.size, args.size, device=args.device) * 2 - 1  # [-1, 1]
    loops = {"plain fp32": plain_loop(cfg, x)} | {f"ganops {m}": ganops_loop(cfg, x, m) for m in modes}
    memory = {}
    for name, step in loops.items():  # warm-up: cuDNN autotuning, torch.compile's first compilation
        if args.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
        measure(step, args.warmup, cfg.batch_size)
        if args.device == "cuda":
            memory[name] = (torch.cuda.max_memory_allocated() - before) / 2**20
    rates: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(args.repeats):
        for name, step in loops.items():
            rates[name].append(measure(step, args.steps, cfg.batch_size))
    where = f"cpu, threads={torch.get_num_threads()}"
    if args.device == "cuda":
        where = torch.cuda.get_device_name()
    print(
        f"{args.arch}/{args.loss} {args.channels}x{args.size}x{args.size} width={args.width} "
        f"batch={args.batch_size} ema={args.ema} steps={args.steps}x{args.repeats} on {where} "
        f"(torch {torch.__version__})"
    )
    base = max(rates["plain fp32"])
    for name, runs in rates.items():
        mem = f"  peak {memory[name]:7.1f} MiB" if name in memory else ""
        print(
            f"{name:24s} {max(runs):9.0f} img/s  ratio {max(runs) / base:5.2f}{mem}"
            f"   (runs: {', '.join(f'{v:.0f}' for v in runs)})"
        )
    goal = ">= 0.95 on CPU" if args.device == "cpu" else "fast modes > 1 on GPU"
    print(f"ratio = ganops / plain PyTorch fp32 (goal {goal})")


if __name__ == "__main__":
    main()
