#!/usr/bin/env bash
# The GPU figures of the README in one go, on a CUDA machine with torch (no mlflow/dvc/prefect needed):
#   OUT=/some/dir bash benchmarks/gpu_suite.sh
# Each part has its own time limit so one slow part (torch.compile) cannot starve the others; every
# part's stdout goes to $OUT/<part>.txt and progress bars/warnings to $OUT/<part>.err.
set -u
OUT=${OUT:-gpu_suite_out}
FAILED=""
mkdir -p "$OUT"
export PYTHONPATH=src PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
part() {  # part NAME SECONDS CMD...
    local name=$1 seconds=$2
    shift 2
    echo "=== $name: $*"
    local started=$SECONDS
    timeout "$seconds" "$@" >"$OUT/$name.txt" 2>"$OUT/$name.err"
    local rc=$?
    cat "$OUT/$name.txt"
    [ $rc -eq 0 ] || { FAILED="$FAILED $name"; echo "--- $name exited $rc; last lines of stderr:"; tail -5 "$OUT/$name.err"; }
    echo "=== $name: rc=$rc, $((SECONDS - started)) s"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)'
# what one kernel launch costs here (small GANs are launch-bound): 2,000 tiny in-place adds
$PY -c 'import time, torch
x = torch.zeros(1, device="cuda"); x.add_(1); torch.cuda.synchronize(); t = time.perf_counter()
for _ in range(2000): x.add_(1)
torch.cuda.synchronize(); print(f"kernel launch + run: {(time.perf_counter() - t) / 2000 * 1e6:.1f} us each")'
# make gpu-check: every params.yaml variant, the gan options of params.yaml, loop/resume and DDP checks
part gpu_check 75 $PY benchmarks/gpu_check.py --steps 200 --loop-steps 100
# ganops vs plain fp32 at a GPU-sized workload (64x64 RGB, width 64, batch 256), in each speed mode
MODES=fp32,bf16,bf16+cl,bf16+cl+compile,bf16+cl+compile-cg,fp32+compile-cg
part throughput_64 150 $PY benchmarks/train_throughput.py --device cuda --size 64 --channels 3 --width 64 \
    --batch-size 256 --steps 100 --repeats 2 --modes $MODES
# the same at the default MNIST size (28x28, width 32, batch 64): launch-bound on a big GPU
part throughput_28 120 $PY benchmarks/train_throughput.py --device cuda --width 32 --steps 200 --repeats 2 \
    --modes $MODES
# the real train_gan loop (checkpoints, kill + resume) with CUDA graphs (compile mode reduce-overhead)
part gpu_check_cudagraphs 90 $PY benchmarks/gpu_check.py --steps 200 --loop-steps 100 --no-ddp --compile \
    --compile-mode reduce-overhead --channels-last --variants dcgan,wgan_gp
[ -z "$FAILED" ] || { echo "gpu_suite: FAILED:$FAILED"; exit 1; }
