"""Memory layout on the CPU: the detector CNN in NCHW (torch's default) vs channels_last (NHWC), side by side.

The same net (ganops.detection.detectors.build_cnn at the default width), the same batches, in one
process; timed runs alternate so machine load hits both alike, and the best of `--repeats` is kept.
Two measurements, the two ways the pipeline uses the net: a training step (forward, BCE, backward,
Adam) on batches of `--train-batch`, and inference on batches of `--infer-batch` (scoring test and
perturbed images). The detector trains and scores in channels_last since this benchmark showed it
ahead (detection/detectors.py); the ratio should stay > 1 on the machine you run it on. A third
measurement scores the domain evaluator (FID / IS / KID features, 28x28 digits) in the layout and
batch it used before (NCHW, 500 images per pass) against what `load_evaluator` and `compute_features`
use now (channels_last, 128), and the two steps between.

    PYTHONPATH=src python benchmarks/cpu_layout.py [--threads 1] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ganops.detection.detectors import build_cnn
from ganops.evaluation.evaluator import build_evaluator

LAYOUTS = {"nchw": torch.contiguous_format, "channels_last": torch.channels_last}


def train_step(layout: torch.memory_format, batch: int, width: int) -> Callable[[], None]:
    torch.manual_seed(0)
    net = build_cnn(1, width).to(memory_format=layout)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, 28, 28).contiguous(memory_format=layout)  # (B, 1, 28, 28)
    y = (torch.rand(batch) > 0.5).float()

    def step() -> None:
        loss = F.binary_cross_entropy_with_logits(net(x * 2 - 1), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def inference(layout: torch.memory_format, batch: int, width: int) -> Callable[[], None]:
    torch.manual_seed(0)
    net = build_cnn(1, width).eval().to(memory_format=layout)
    x = torch.rand(batch, 1, 28, 28).contiguous(memory_format=layout)

    def step() -> None:
        with torch.inference_mode():
            net(x * 2 - 1)

    return step


def evaluator_inference(layout: torch.memory_format, batch: int) -> Callable[[], None]:
    torch.manual_seed(0)
    net = build_evaluator((1, 28, 28), 10, 128).eval().to(memory_format=layout)
    x = torch.rand(batch, 1, 28, 28)  # NCHW, as compute_features passes it

    def step() -> None:
        with torch.inference_mode():
            net.features_and_logits(x)

    return step


def images_per_second(step: Callable[[], None], calls: int, batch: int) -> float:
    step()  # warm-up: oneDNN picks its kernels on the first call
    start = time.perf_counter()
    for _ in range(calls):
        step()
    return calls * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (stages run with 1)")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--train-batch", type=int, default=128)
    parser.add_argument("--infer-batch", type=int, default=1024)
    parser.add_argument("--evaluator-batches", default="500,128", help="before,now: images per evaluator pass")
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"detector CNN width {args.width}, 1x28x28, {args.threads} thread(s), torch {torch.__version__}")
    for what, build, batch in (
        ("train step", train_step, args.train_batch),
        ("inference", inference, args.infer_batch),
    ):
        steps = {name: build(layout, batch, args.width) for name, layout in LAYOUTS.items()}
        runs: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(args.repeats):  # alternate, so load hits both layouts alike
            for name, step in steps.items():
                runs[name].append(images_per_second(step, args.calls, batch))
        report(what, runs, "nchw")
    before, now = (int(b) for b in args.evaluator_batches.split(","))
    steps = {f"{name} b{batch}": (evaluator_inference(layout, batch), batch)
             for batch in (before, now) for name, layout in LAYOUTS.items()}  # fmt: skip
    runs = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, (step, batch) in steps.items():
            runs[name].append(images_per_second(step, max(1, args.calls * 1000 // batch), batch))
    report("evaluator", runs, f"nchw b{before}")


def report(what: str, runs: dict[str, list[float]], baseline: str) -> None:
    base = max(runs[baseline])
    for name, values in runs.items():
        print(f"{what:<11} {name:<18} {max(values):7.0f} img/s  ratio {max(values) / base:5.2f}"
              f"   (runs: {', '.join(f'{v:.0f}' for v in values)})")  # fmt: skip


if __name__ == "__main__":
    main()
