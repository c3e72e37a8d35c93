# Sourced by run_1p.sh, run_8p.sh and tools/dist_*.sh: picks the device and prepares its environment.
# Sets DEVICE (npu | cuda | cpu; override with SSD_NPU_DEVICE) and PYTHON (default: python).
#
# CANN: unless SSD_NPU_DEVICE is cpu or cuda, CANN's set_env.sh is sourced before Python starts
# (torch_npu cannot load without it). The first that exists of, in this order:
#   $ASCEND_TOOLKIT_HOME/set_env.sh, then the one in its parent folder;
#   for each PREFIX of /usr/local/Ascend, the Install_Path= of /etc/Ascend/ascend_cann_install.info
#   and $HOME/Ascend: PREFIX/ascend-toolkit/set_env.sh, PREFIX/ascend-toolkit/latest/set_env.sh,
#   PREFIX/cann/set_env.sh, PREFIX/nnae/set_env.sh, PREFIX/nnae/latest/set_env.sh.
# SSD_NPU_CANN_PREFIX replaces /usr/local/Ascend and SSD_NPU_CANN_INSTALL_INFO replaces
# /etc/Ascend/ascend_cann_install.info (for installs elsewhere, and for tests with fake CANN trees).
# One line on stderr names the file sourced, or says that none was found.
#
# On npu (npu_environment): TASK_QUEUE_ENABLE=2, HCCL_WHITELIST_DISABLE=1, and HCCL's own timeouts
# derived from SSD_NPU_DIST_TIMEOUT (seconds, default 1800: the process group's timeout); a value
# already set is kept.
PYTHON=${PYTHON:-python}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}"

# The prefix CANN's installer recorded (Install_Path=PREFIX), or nothing.
cann_install_prefix() {
    local info=${SSD_NPU_CANN_INSTALL_INFO:-/etc/Ascend/ascend_cann_install.info}
    if [ -r "$info" ]; then
        awk '/^[[:space:]]*Install_Path=/ { sub(/^[^=]*=/, ""); gsub(/["\047\r]/, ""); print; exit }' "$info"
    fi
}

# Where CANN puts set_env.sh, one path a line, in the order they are tried.
cann_env_candidates() {
    local prefix
    if [ -n "${ASCEND_TOOLKIT_HOME:-}" ]; then
        printf '%s\n' "${ASCEND_TOOLKIT_HOME%/}/set_env.sh" "$(dirname "$ASCEND_TOOLKIT_HOME")/set_env.sh"
    fi
    for prefix in "${SSD_NPU_CANN_PREFIX:-/usr/local/Ascend}" "$(cann_install_prefix)" "${HOME:+$HOME/Ascend}"; do
        if [ -n "$prefix" ]; then
            prefix=${prefix%/}
            printf '%s\n' "$prefix/ascend-toolkit/set_env.sh" "$prefix/ascend-toolkit/latest/set_env.sh" \
                "$prefix/cann/set_env.sh" "$prefix/nnae/set_env.sh" "$prefix/nnae/latest/set_env.sh"
        fi
    done
}

CANN_ENV=""
CANN_SEARCHED=""
if [ -z "${SSD_NPU_DEVICE:-}" ] || [ "${SSD_NPU_DEVICE}" = "npu" ]; then
    while IFS= read -r cann_env; do
        case ":$CANN_SEARCHED:" in *":$cann_env:"*) continue ;; esac
        CANN_SEARCHED=${CANN_SEARCHED:+$CANN_SEARCHED:}$cann_env
        if [ -f "$cann_env" ]; then
            CANN_ENV=$cann_env
            break
        fi
    done < <(cann_env_candidates)
    if [ -n "$CANN_ENV" ]; then
        # CANN's set_env.sh is not written for the callers' `set -euo pipefail`: it prepends to
        # variables that may be unset (LD_LIBRARY_PATH=...:$LD_LIBRARY_PATH), which `set -u` turns
        # into an exit. Source it with nounset and errexit off, then restore the caller's options.
        caller_options=$-
        set +eu
        # shellcheck disable=SC1090
        source "$CANN_ENV"
        if [[ $caller_options == *e* ]]; then set -e; fi
        if [[ $caller_options == *u* ]]; then set -u; fi
        echo "CANN environment: sourced $CANN_ENV" >&2
    else
        echo "CANN environment: no set_env.sh found (an Ascend NPU needs one; set ASCEND_TOOLKIT_HOME" \
             "to CANN's folder if it is installed elsewhere)" >&2
    fi
fi

# The probe names its failure itself: torch_npu that cannot load (with the files tried above),
# ssd_npu or a dependency not installed, or an SSD_NPU_DEVICE this host lacks.
DEVICE=$(SSD_NPU_CANN_ENV=$CANN_ENV SSD_NPU_CANN_SEARCHED=$CANN_SEARCHED \
         "$PYTHON" "$REPO_ROOT/tools/torch_import_check.py") || exit 1
export SSD_NPU_DEVICE=$DEVICE

# The Ascend settings of a run; values already set are kept.
npu_environment() {
    # Task queue 2: Ascend's recommended level (1 is torch_npu's default, 0 off).
    export TASK_QUEUE_ENABLE=${TASK_QUEUE_ENABLE:-2}
    # HCCL without the IP whitelist, as torch_npu's own env.sh sets it.
    export HCCL_WHITELIST_DISABLE=${HCCL_WHITELIST_DISABLE:-1}
    local timeout=${SSD_NPU_DIST_TIMEOUT:-1800} seconds
    if [[ ! $timeout =~ ^([0-9]+)([.][0-9]*)?$ ]]; then
        echo "SSD_NPU_DIST_TIMEOUT=$timeout is not a number of seconds; HCCL keeps its own timeouts" >&2
        return 0
    fi
    seconds=${BASH_REMATCH[1]}
    if [ ${#seconds} -gt 9 ]; then seconds=999999999; fi
    seconds=$((10#$seconds))
    if [[ ${BASH_REMATCH[2]} =~ [1-9] ]]; then seconds=$((seconds + 1)); fi
    # CANN's environment variable reference (envref, HCCL section): HCCL_CONNECT_TIMEOUT is an
    # integer in [120, 7200] seconds (default 120). HCCL_EXEC_TIMEOUT is (0, 17340] on the Atlas
    # training series (910A), which use its value rounded down to a multiple of 68 (at least 68);
    # wider on A2/A3. Rounded up to a multiple of 68 it is never shorter than the process group's
    # timeout, which then fires first with its clearer error: torch_npu's own defaults are the
    # same pair, 1800 s and 1836 s = 27 * 68.
    local connect=$seconds exec_s=$(((seconds + 67) / 68 * 68))
    if [ "$connect" -lt 120 ]; then connect=120; elif [ "$connect" -gt 7200 ]; then connect=7200; fi
    if [ "$exec_s" -lt 68 ]; then exec_s=68; elif [ "$exec_s" -gt 17340 ]; then exec_s=17340; fi
    export HCCL_CONNECT_TIMEOUT=${HCCL_CONNECT_TIMEOUT:-$connect}
    export HCCL_EXEC_TIMEOUT=${HCCL_EXEC_TIMEOUT:-$exec_s}
}

if [ "$DEVICE" = "npu" ]; then
    npu_environment
fi

# The run scripts' arguments: CONFIG is the first *.py argument (default configs/ssd300_coco.py, the
# old product's default), TRAIN_ARGS the others for tools/train.py; the Ascend ModelZoo's
# --data_path=DIR (or --data_path DIR), in any position, becomes --data-root DIR.
parse_run_args() {
    CONFIG=""
    TRAIN_ARGS=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --data_path=*) TRAIN_ARGS+=(--data-root "${1#--data_path=}") ;;
            --data_path) TRAIN_ARGS+=(--data-root "${2:?--data_path needs a folder}"); shift ;;
            -*) TRAIN_ARGS+=("$1") ;;
            *.py) if [ -z "$CONFIG" ]; then CONFIG=$1; else TRAIN_ARGS+=("$1"); fi ;;
            *) TRAIN_ARGS+=("$1") ;;
        esac
        shift
    done
    CONFIG=${CONFIG:-configs/ssd300_coco.py}
}
