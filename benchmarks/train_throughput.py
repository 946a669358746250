"""Training throughput: the ganops training step vs a minimal plain-PyTorch loop, side by side.

Both loops train the same model (built by ganops.architectures), with the same batch size, optimiser
and loss, on the same in-memory data, in one process; runs alternate so machine load hits both alike,
and the best of `--repeats` runs of each is kept. The ganops side is the real `train_gan` hot loop
(`train_step` + data order + NaN guard), without checkpoints or logging. Goal: ratio >= 0.95 on CPU.

    PYTHONPATH=src python benchmarks/train_throughput.py [--arch dcgan --loss non_saturating ...]
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from ganops.architectures import build_models
from ganops.train_gan import LOSS_D, LOSS_G, DataOrder, build_trainer, train_step


def variant(args: argparse.Namespace) -> SimpleNamespace:
    return SimpleNamespace(
        arch=args.arch, loss=args.loss, conditional=False, z_dim=args.z_dim, width=args.width,
        batch_size=args.batch_size, num_steps=args.steps, n_critic=1, lr_g=2e-4, lr_d=2e-4, beta1=0.5,
        beta2=0.999, gp_weight=10.0, r1_weight=0.0, label_smoothing=0.0, ema_decay=args.ema,
        diffaugment=False, checkpoint_every=10**9, log_every=10**9,
    )  # fmt: skip


def plain_loop(cfg: SimpleNamespace, x: torch.Tensor, steps: int) -> float:
    """The PyTorch DCGAN example's loop: one fake batch per step, D on real/fake.detach(), then G."""
    torch.manual_seed(0)
    G, D = build_models(cfg, tuple(x.shape[1:]), 0)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    G_ema = None
    if cfg.ema_decay > 0:
        G_ema = build_models(cfg, tuple(x.shape[1:]), 0)[0].requires_grad_(False)
    B = cfg.batch_size
    ones, zeros = torch.ones(B), torch.zeros(B)
    start = time.perf_counter()
    for _ in range(steps):
        real = x[torch.randint(len(x), (B,))]
        fake = G(torch.randn(B, cfg.z_dim))
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
    float(loss_g.detach())  # sync before stopping the clock
    return steps * B / (time.perf_counter() - start)


def ganops_loop(cfg: SimpleNamespace, x: torch.Tensor, steps: int) -> float:
    """train_gan's loop body: DataOrder batches, train_step (D, G, EMA), the non-finite guard."""
    torch.manual_seed(0)
    gan = SimpleNamespace(bf16=False, channels_last=False, compile=False)
    tr = build_trainer(cfg, gan, tuple(x.shape[1:]), 0, "cpu")
    order = DataOrder(len(x), cfg.batch_size, 0)

    def next_batch() -> tuple[torch.Tensor, None]:
        return x[order.next_indices()], None

    nonfinite_at = torch.full((), -1, dtype=torch.long)
    start = time.perf_counter()
    for step in range(steps):
        values = train_step(tr, next_batch, step)
        finite = torch.isfinite(values[LOSS_D]) & torch.isfinite(values[LOSS_G])
        nonfinite_at = torch.where((nonfinite_at < 0) & ~finite, step + 1, nonfinite_at)
        assert int(nonfinite_at) < 0
    return steps * cfg.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = variant(args)
    x = torch.rand(2000, args.channels, args.size, args.size) * 2 - 1  # (N, C, H, W) in [-1, 1]
    plain_loop(cfg, x, args.warmup)
    ganops_loop(cfg, x, args.warmup)
    plain, ours = [], []
    for _ in range(args.repeats):
        plain.append(plain_loop(cfg, x, args.steps))
        ours.append(ganops_loop(cfg, x, args.steps))
    print(
        f"{args.arch}/{args.loss} {args.channels}x{args.size}x{args.size} width={args.width} "
        f"batch={args.batch_size} ema={args.ema} threads={torch.get_num_threads()} "
        f"steps={args.steps}x{args.repeats}"
    )
    print(f"plain PyTorch: {max(plain):8.0f} img/s   (runs: {', '.join(f'{v:.0f}' for v in plain)})")
    print(f"ganops:        {max(ours):8.0f} img/s   (runs: {', '.join(f'{v:.0f}' for v in ours)})")
    print(f"ratio ganops / plain: {max(ours) / max(plain):.3f}  (goal >= 0.95 on CPU)")


if __name__ == "__main__":
    main()
