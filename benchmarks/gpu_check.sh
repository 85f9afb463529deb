#!/usr/bin/env bash
# One-shot GPU check of the TensorFlow multi-user trainer (recsys_utils.batched_tf).
#
# For a session lent a GPU machine: run it ONCE, from anywhere, with the project's Python
# environment (a GPU build of TensorFlow) and RECSYS_DATA_DIR naming a folder that holds
# ml-1m/.  It trains the report's modified recommender for all 6,040 ML-1M users at the
# report's settings (100 epochs, batches of 10, Adam, dropout 0.5; 65 % of each user's rows,
# split as in bench_batched_training.py) on the GPU, once per value of GPU_CHECK_GROUPS (the
# trainer's groups=: 1 pads every user to the largest user's batches, about 150 per epoch; 4 trains
# four groups by size one after the other, less padding but more sequential steps), and writes
#   benchmarks/results/gpu_batched_tf_groups<G>.json  (figures, with the device and its name)
#   benchmarks/results/gpu_batched_tf_groups<G>.txt   (the printed report)
# The target: under 30 s of training on one data-centre GPU.  No GPU figure has been
# measured yet: this script is how the first one will be.
#
# Environment:
#   PYTHON               the interpreter (default: python)
#   RECSYS_DATA_DIR      folder holding ml-1m/ (required; nothing is downloaded)
#   GPU_CHECK_GROUPS     the groups= values to run (default "1 4")
#   GPU_CHECK_TIMEOUT_S  limit of each run, in seconds (default 260: the two default runs and
#                        the device check stay under 10 minutes)
#   GPU_CHECK_BOTH=1     then also run both trainers on the same users (the Numba one on the
#                        machine's CPUs; several minutes more) -> gpu_batched_backends.json
#   GPU_CHECK_REPORT_SEEDS  seeds for the report's two recommenders on every ML-1M user with the
#                        TensorFlow trainer (default: none, skipped; e.g. "0 1 2") ->
#                        benchmarks/results/report_models_all.json (scripts/run_report_models.py;
#                        the file chapter 05's users-and-seeds check can then be pointed at)
#   OUT                  if set, each run's result files are copied there as soon as it ends
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's recsys_utils
PYTHON="${PYTHON:-python}"
: "${RECSYS_DATA_DIR:?set RECSYS_DATA_DIR to a folder holding ml-1m/}"
export RECSYS_DEVICE=gpu TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
RESULTS=benchmarks/results
mkdir -p "$RESULTS"

keep() {  # copy a run's files to $OUT at once (a later run may be cut off by a time limit)
    if [ -n "${OUT:-}" ]; then
        cp "$RESULTS"/"$1".* "$OUT"/ 2>/dev/null || true
    fi
}

# fail at once, with the reason, when TensorFlow sees no GPU
"$PYTHON" -c "from recsys_utils.device import resolve_device; print('device:', resolve_device('gpu').note())"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

for groups in ${GPU_CHECK_GROUPS:-1 4}; do
    timeout "${GPU_CHECK_TIMEOUT_S:-260}" "$PYTHON" benchmarks/bench_batched_training.py \
        --backend tf --device gpu --tf-groups "$groups" --users all --naive-users 0 --epochs 100 \
        --json "$RESULTS/gpu_batched_tf_groups$groups.json" 2>&1 | tee "$RESULTS/gpu_batched_tf_groups$groups.txt" \
        || echo "gpu_check: the run with groups=$groups failed or ran out of time (see its .txt)"
    keep "gpu_batched_tf_groups$groups"
done

if [ "${GPU_CHECK_BOTH:-0}" = "1" ]; then
    timeout "${GPU_CHECK_TIMEOUT_S:-260}" "$PYTHON" benchmarks/bench_batched_training.py \
        --backend both --device gpu --users all --naive-users 0 --epochs 100 \
        --json "$RESULTS/gpu_batched_backends.json" 2>&1 | tee "$RESULTS/gpu_batched_backends.txt" \
        || echo "gpu_check: the run of both trainers failed or ran out of time (see its .txt)"
    keep gpu_batched_backends
fi

if [ -n "${GPU_CHECK_REPORT_SEEDS:-}" ]; then
    # shellcheck disable=SC2086  # the seeds are words
    timeout "${GPU_CHECK_TIMEOUT_S:-260}" "$PYTHON" scripts/run_report_models.py --users all \
        --seeds $GPU_CHECK_REPORT_SEEDS --trainer tf --out "$RESULTS/report_models_all.json" 2>&1 \
        | tee "$RESULTS/report_models_all.txt" \
        || echo "gpu_check: the report models' run failed or ran out of time (see its .txt)"
    keep report_models_all
fi
