#!/usr/bin/env bash
# The whole GPU measurement of issue 11 (item 7) in one call, at most 8 minutes
# on one GPU with the JAX backend. See benchmarks/README.md, "device_suite".
#
# Usage (from anywhere; it runs in the repository root):
#   bash benchmarks/device_suite.sh [--tiny]
#
# Steps, in order, each under its own time cap (`timeout`, which kills the
# step's whole process group), so that one slow step cannot eat the others:
#   info                device, backend, versions, nvidia-smi
#   trial_overhead      where a make-search trial's time goes (no XLA, as
#                       `keras-nasnet search` runs it)
#   trial_overhead_xla  the same with XLA (--jit-compile on)
#   workers             trials per GPU-hour with 1, 2, 4 and 8 concurrent
#                       keras-tuner workers sharing the one device
#   throughput          NASNet-A mobile (ours) against
#                       keras.applications.NASNetMobile, training and
#                       inference images/s, alternating, medians and ratios
#   search_quality      a short search-quality run: 2 strategies x 2 seeds
# A step that fails or passes its cap is recorded and the next one runs. Every
# result JSON is written by its benchmark script (benchmarks/_common.py: device,
# backend, versions, command) under $OUT, with the summary
# device_suite_<tag>.{json,md} and the logs in device_suite_logs_<tag>/.
# Exit status: 0 when every step run passed, 1 otherwise, 2 on a bad argument.
#
# Environment:
#   OUT                      result folder (default benchmarks/results)
#   DEVICE_SUITE_TINY=1      same as --tiny: every step at tiny sizes, on the
#                            CPU (JAX_PLATFORMS=cpu unless set), for CI
#   DEVICE_SUITE_STEPS=a,b   run only these steps (default: all)
#   DEVICE_SUITE_BUDGET=S    seconds for the whole suite (default 460, so that
#                            with a step's 10 s kill grace and the summary it
#                            ends within 8 minutes; tiny 3600): a step's cap
#                            is cut to what is left
#   DEVICE_SUITE_CAP_<STEP>=S  one step's cap, e.g. DEVICE_SUITE_CAP_WORKERS=200
#   DEVICE_SUITE_TAG=name    names the outputs (default gpu; tiny: tiny)
#   DEVICE_SUITE_DATA=DIR    folder of the Fashion-MNIST IDX files (default
#                            .data when present; tiny: tests/data)
#   DEVICE_SUITE_SITE=DIR    where the .whl/ wheels are installed (/tmp/site)
#   PYTHON                   the interpreter (default python3)
#   KERAS_BACKEND            default jax
set -u -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TINY=${DEVICE_SUITE_TINY:-0}
for arg in "$@"; do
  case $arg in
    --tiny) TINY=1 ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "device_suite.sh: unknown argument '$arg' (expected --tiny)" >&2; exit 2 ;;
  esac
done
[ "$TINY" = 1 ] || TINY=0

PY=${PYTHON:-python3}
OUT=${OUT:-benchmarks/results}
if [ "$TINY" = 1 ]; then TAG=${DEVICE_SUITE_TAG:-tiny}; else TAG=${DEVICE_SUITE_TAG:-gpu}; fi
if [ "$TINY" = 1 ]; then BUDGET=${DEVICE_SUITE_BUDGET:-3600}; else BUDGET=${DEVICE_SUITE_BUDGET:-460}; fi
RESERVE=15 # seconds kept for the summary
LOGS=$OUT/device_suite_logs_$TAG
STATUS=$LOGS/status.tsv
mkdir -p "$OUT" "$LOGS" && : >"$STATUS" || exit 1
COMMAND="benchmarks/device_suite.sh $*"
for name in DEVICE_SUITE_STEPS DEVICE_SUITE_BUDGET DEVICE_SUITE_TAG DEVICE_SUITE_DATA; do
  [ -n "${!name:-}" ] && COMMAND="$name=${!name} $COMMAND"
done
START_NS=$(date +%s%N)
elapsed_s() { echo $((($(date +%s%N) - START_NS) / 1000000000)); }

# (0) Setup: the wheels a GPU machine lacks (keras, keras-tuner, ...; see
# benchmarks/device_prepare.sh), installed offline; the backend; the data.
if ! "$PY" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("keras_tuner") is None)'; then
  SITE=${DEVICE_SUITE_SITE:-/tmp/site}
  if compgen -G ".whl/*.whl" >/dev/null; then
    echo "== installing .whl/*.whl into $SITE"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl ||
      echo "!! pip install failed: the steps will fail too"
  else
    echo "!! keras_tuner is not installed and there is no .whl/ folder (benchmarks/device_prepare.sh makes one)"
  fi
  export PYTHONPATH=$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
export KERAS_BACKEND=${KERAS_BACKEND:-jax}
if [ "$TINY" = 1 ]; then
  export JAX_PLATFORMS=${JAX_PLATFORMS-cpu}
  # Tiny mode checks the plumbing, not the speed: JAX's compilation cache,
  # shared by the steps and their processes, spares recompiling the same small
  # programs (on a CPU, JAX compiles every operation it runs, even eagerly).
  # The full run measures compile times, so it leaves the cache off.
  export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-$LOGS/jax_cache}
  export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0
fi
if [ -n "${DEVICE_SUITE_DATA:-}" ]; then DATA=(--data-dir "$DEVICE_SUITE_DATA")
elif [ "$TINY" = 1 ]; then DATA=(--data-dir tests/data)
elif [ -d .data ]; then DATA=(--data-dir .data)
else DATA=(); fi
echo "== device suite ($TAG): python $("$PY" -c 'import platform; print(platform.python_version())'), KERAS_BACKEND=$KERAS_BACKEND, data ${DATA[*]:-default}, budget ${BUDGET}s, results in $OUT"
command -v nvidia-smi >/dev/null && nvidia-smi -L

# Sizes. Full: an earlier make-search proxy (N=1, F=8, 5 blocks, 2,000 / 500
# images, 1 epoch, batch 64; make search now trains 24,000 images at batch 32,
# too long for the suite's 8 minutes) where a trial is measured; NASNet-A
# mobile at 224 px.
# Tiny: the smallest child (N=1, F=4, 1 block) on 64 / 32 images, compiled
# with XLA (on a CPU, JAX runs eager steps op by op, compiling each: slower).
if [ "$TINY" = 1 ]; then
  OVERHEAD=(--genotypes 1 --memory-trials 0 --num-blocks 1 --filters 4 --batch-size 32 --train-images 64 --validation-images 32)
  OVERHEAD_RUN=(--jit-compile on)
  OVERHEAD_XLA=(--jit-compile on)
  PROXY=(--train-images 64 --validation-images 32 --cells-per-stack 1 --filters 4 --num-blocks 1 --epochs 1 --batch-size 32 --xla)
  WORKERS=(--workers 1,2 --max-trials 1 --timeout 1200)
  # Eager: XLA takes many minutes to compile NASNet-A mobile's training step on a CPU.
  THROUGHPUT=(--image-size 32 --batch-size 2 --steps 1 --warmup-steps 1 --repeats 2 --run-eagerly)
  SEARCH=(--max-trials 1)
  # Generous: on a loaded 2-core CPU, JAX compiles for minutes.
  CAPS=(info=300 trial_overhead=900 trial_overhead_xla=900 workers=1500 throughput=1500 search_quality=1500)
else
  OVERHEAD=(--genotypes 3 --memory-trials 0 --batch-size 64 --train-images 2000 --validation-images 500)
  OVERHEAD_RUN=()
  OVERHEAD_XLA=(--genotypes 2 --jit-compile on)
  PROXY=(--train-images 2000 --validation-images 500 --cells-per-stack 1 --filters 8 --num-blocks 5 --epochs 1 --batch-size 64)
  WORKERS=(--workers 1,2,4,8 --max-trials 8 --timeout 45)
  THROUGHPUT=(--image-size 224 --batch-size 64 --steps 10 --warmup-steps 2 --repeats 3 --jit-compile on)
  SEARCH=(--max-trials 3)
  # Upper bounds, not measured durations (no GPU has run this yet); their sum
  # is above the budget, which cuts the last steps' caps if all run long.
  CAPS=(info=30 trial_overhead=90 trial_overhead_xla=70 workers=120 throughput=100 search_quality=80)
fi

# Stopped from outside (the device's time limit, Ctrl-C): stop the running
# step too (`timeout` passes the signal to the step's whole process group).
CHILD=
on_signal() {
  [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD"
  echo "== device suite stopped by a signal" >&2
  exit 143
}
trap on_signal TERM INT HUP

selected() { [ -z "${DEVICE_SUITE_STEPS:-}" ] || [[ ",$DEVICE_SUITE_STEPS," == *",$1,"* ]]; }

# step NAME RESULT_JSON COMMAND...: runs COMMAND under the step's cap, its
# output in $LOGS/NAME.log, and appends its line to $STATUS.
step() {
  local name=$1 json=$2 cap=0 entry var
  shift 2
  selected "$name" || return 0
  for entry in "${CAPS[@]}"; do [ "${entry%%=*}" = "$name" ] && cap=${entry#*=}; done
  var=DEVICE_SUITE_CAP_${name^^}
  cap=${!var:-$cap}
  local left=$((BUDGET - $(elapsed_s) - RESERVE))
  ((left < cap)) && cap=$left
  local status rc seconds
  if ((left < 5)); then
    status=skipped rc=-1 seconds=0
    echo "== [$name] skipped: ${left}s left of the ${BUDGET}s budget"
  else
    echo "== [$name] cap ${cap}s: $*"
    local t0
    t0=$(date +%s%N)
    # In the background, so that a signal to this script reaches the step.
    timeout -k 10 "$cap" "$@" >"$LOGS/$name.log" 2>&1 &
    CHILD=$!
    wait "$CHILD"
    rc=$?
    CHILD=
    seconds=$(awk -v ns=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.1f", ns / 1e9 }')
    if [ "$rc" = 0 ]; then status=passed
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status=timeout
    else status=failed; fi
    echo "== [$name] $status (exit $rc) in ${seconds}s"
    [ "$status" = passed ] || tail -n 15 "$LOGS/$name.log" | sed "s/^/   [$name] /"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" "$seconds" "$cap" "$json" >>"$STATUS"
}

# One line per step: the lead adjusts a step's flags here.
step info "$OUT/device_info_$TAG.json" "$PY" benchmarks/device_suite.py info --output "$OUT/device_info_$TAG.json"
# (1) The trial-time breakdown, as `keras-nasnet search` runs a trial, then with XLA.
step trial_overhead "$OUT/trial_overhead_$TAG.json" "$PY" benchmarks/trial_overhead.py "${DATA[@]}" "${OVERHEAD[@]}" "${OVERHEAD_RUN[@]}" --output "$OUT/trial_overhead_$TAG.json"
step trial_overhead_xla "$OUT/trial_overhead_xla_$TAG.json" "$PY" benchmarks/trial_overhead.py "${DATA[@]}" "${OVERHEAD[@]}" "${OVERHEAD_XLA[@]}" --output "$OUT/trial_overhead_xla_$TAG.json"
# (2) Trials per GPU-hour with concurrent workers (each JAX worker gets
# XLA_PYTHON_CLIENT_MEM_FRACTION = 1 / (W + 0.5), no preallocation).
step workers "$OUT/workers_throughput_$TAG.json" "$PY" benchmarks/workers_throughput.py "${DATA[@]}" "${PROXY[@]}" "${WORKERS[@]}" --keep-going --tag "$TAG" --output "$OUT/workers_throughput_$TAG.json"
# (3) Child throughput against keras.applications.NASNetMobile, side by side.
step throughput "$OUT/throughput_$TAG.json" "$PY" benchmarks/throughput.py "${THROUGHPUT[@]}" --models ours_mobile,keras_mobile --inference --output "$OUT/throughput_$TAG.json"
# (4) A short search-quality run: 2 strategies x 2 seeds, in one process (a
# process per search, for TensorFlow's memory, would start JAX 4 times).
step search_quality "$OUT/search_quality_$TAG.json" "$PY" benchmarks/search_quality.py "${DATA[@]}" "${PROXY[@]}" "${SEARCH[@]}" --in-process --strategies evolution,random --seeds 0,1 --tag "$TAG" --output "$OUT/search_quality_$TAG.json"

WALL=$(awk -v ns=$(($(date +%s%N) - START_NS)) 'BEGIN { printf "%.1f", ns / 1e9 }')
"$PY" benchmarks/device_suite.py summarize --status "$STATUS" --logs "$LOGS" --tag "$TAG" \
  --budget-s "$BUDGET" --wall-s "$WALL" --command "$COMMAND" --output "$OUT/device_suite_$TAG.json" >/dev/null
SUMMARY_RC=$?
FAILED_STEPS=$(awk -F'\t' '$2 != "passed" { printf "%s ", $1 }' "$STATUS")
echo "== device suite ($TAG) done in ${WALL}s; summary $OUT/device_suite_$TAG.md"
if [ -n "$FAILED_STEPS" ] || [ "$SUMMARY_RC" != 0 ]; then
  echo "== NOT all passed: ${FAILED_STEPS:-(summary exit $SUMMARY_RC)}"
  exit 1
fi
echo "== all passed"
