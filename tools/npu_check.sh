#!/usr/bin/env bash
# The first hour on an Ascend host: machine facts, then timed pass/fail steps (AMP training eager and
# compiled, two devices with HCCL, first loss against the CPU, the loss scaler, CPU-fallback operators,
# images/s), all in one JSON file whose path is printed at the end. No argument is needed:
#
#   bash tools/npu_check.sh                                  # on the NPU, 50 iterations per run
#   bash tools/npu_check.sh --device cpu --iters 4 --out /tmp/npu_check.json
#
# The logic and every option: tools/misc/npu_check.py (--help). tools/launch_env.sh is sourced as
# run_1p.sh sources it (CANN's set_env.sh, the device probe); when it fails (torch_npu cannot load, say),
# the report is written all the same, with its messages, and the exit status is 1.
set -uo pipefail
CALLER_DIR=$PWD
cd "$(dirname "$0")/.."
ARGS=("$@")

for arg in "$@"; do
    case "$arg" in
        -h | --help) exec "${PYTHON:-python}" tools/misc/npu_check.py --help ;;
    esac
done

# --device X (or --device=X) is the device tools/launch_env.sh prepares (cpu and cuda skip CANN).
previous=""
for arg in "$@"; do
    case "$arg" in
        --device=*) export SSD_NPU_DEVICE=${arg#--device=} ;;
        *) if [ "$previous" = "--device" ]; then export SSD_NPU_DEVICE=$arg; fi ;;
    esac
    previous=$arg
done

# Runs the check once tools/launch_env.sh is done, or from the EXIT trap when it exited (failed probe).
run_check() {
    local launch_status=$1 messages
    trap - EXIT
    exec 2>&3 3>&-
    messages=$(cat "$LAUNCH_LOG" 2>/dev/null)
    rm -f "$LAUNCH_LOG"
    if [ -n "$messages" ]; then printf '%s\n' "$messages" >&2; fi
    SSD_NPU_CHECK_LAUNCH_STATUS=$launch_status \
    SSD_NPU_CHECK_LAUNCH_LOG=$messages \
    SSD_NPU_CHECK_LAUNCH_SECONDS=$((SECONDS - LAUNCH_START)) \
    SSD_NPU_CHECK_CANN_ENV=${CANN_ENV:-} \
    SSD_NPU_CHECK_CANN_CANDIDATES="$(cann_env_candidates 2>/dev/null)" \
    SSD_NPU_CHECK_CALLER_DIR=$CALLER_DIR \
        "${PYTHON:-python}" tools/misc/npu_check.py ${ARGS[@]+"${ARGS[@]}"}
    exit $?
}

LAUNCH_LOG=$(mktemp "${TMPDIR:-/tmp}/npu_check_launch.XXXXXX")
LAUNCH_START=$SECONDS
exec 3>&2
trap 'run_check $?' EXIT
# shellcheck source=tools/launch_env.sh
source tools/launch_env.sh 2>"$LAUNCH_LOG"
run_check 0
