#!/usr/bin/env bash
# Run the patch-layer, engine and model tests on each given torch release, each in its own venv, to
# check the torch range that requirements/runtime.txt declares (by default the releases that
# torch-npu 2.6.0.post5 and 2.14.0 pin: the oldest and the newest supported on Ascend):
#   bash tools/misc/test_torch_versions.sh [BASE_DIR [TORCH_VERSION ...]]
# BASE_DIR (default /tmp/ssd_npu_torch_venvs) holds one venv per release, BASE_DIR/torch-X, and the
# wheels of torch, torchvision and their dependencies (BASE_DIR/wheels, filled by pip download: a
# recreated venv installs from there without network; pip's own HTTP cache keeps nothing behind a
# proxy that strips caching headers). torch and its torchvision are installed first, then
# requirements/runtime.txt and tests.txt under a constraint file pinning both, so pip never swaps
# them; the product runs from this checkout (PYTHONPATH), which the script never writes to. PyPI's
# torch builds (CUDA ones, 3-6 GB installed with their nvidia-* packages) run on CPU as well.
# Prints one summary line per release and exits non-zero when any release fails to install or fails
# a test. Env: PYTHON (the venvs' Python, default python), JOBS (pytest-xdist workers, default 2, one
# torch thread each: tests/conftest.py), PYTEST_ADDOPTS (extra pytest arguments).
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
BASE=${1:-/tmp/ssd_npu_torch_venvs}
shift $(( $# > 0 ? 1 : 0 ))
VERSIONS=("$@")
[ ${#VERSIONS[@]} -gt 0 ] || VERSIONS=(2.6.0 2.14.0)
PYTHON=${PYTHON:-python}
JOBS=${JOBS:-2}
TESTS=(tests/test_mmcv_patches tests/test_engine tests/test_models)
WHEELS=$BASE/wheels
export PIP_DISABLE_PIP_VERSION_CHECK=1

pip_quiet() {  # pip -q, without the warnings about local index folders lacking a project
    "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}

torchvision_for() {  # the torchvision release built against a torch release
    case $1 in
        2.6.0) echo 0.21.0 ;;
        2.7.0) echo 0.22.0 ;;
        2.7.1) echo 0.22.1 ;;
        2.8.0) echo 0.23.0 ;;
        2.9.0) echo 0.24.0 ;;
        2.9.1) echo 0.24.1 ;;
        2.10.0) echo 0.25.0 ;;
        2.11.0) echo 0.26.0 ;;
        2.12.0) echo 0.27.0 ;;
        2.12.1) echo 0.27.1 ;;
        2.13.0) echo 0.28.0 ;;
        2.14.0) echo 0.29.0 ;;
        2.14.1) echo 0.29.1 ;;
        *) return 1 ;;
    esac
}

install_into() {  # PYTHON TORCH VISION CONSTRAINTS: torch and torchvision (from BASE_DIR/wheels,
    # unless the venv has that torch already), then the project's runtime and test requirements
    if ! "$1" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$2')" 2>/dev/null; then
        pip_quiet "$1" -m pip download -q -d "$WHEELS" "torch==$2" "torchvision==$3" || return 1
        pip_quiet "$1" -m pip install -q --no-index --find-links "$WHEELS" "torch==$2" "torchvision==$3" \
            || return 1
    fi
    pip_quiet "$1" -m pip install -q -c "$4" -r requirements/runtime.txt -r requirements/tests.txt
}

mkdir -p "$BASE" "$WHEELS"
SUMMARY=()
STATUS=0
for TORCH in "${VERSIONS[@]}"; do
    START=$SECONDS
    if ! VISION=$(torchvision_for "$TORCH"); then
        SUMMARY+=("torch $TORCH: FAILED (no torchvision known for it: add it to torchvision_for)")
        STATUS=1
        continue
    fi
    VENV=$BASE/torch-$TORCH
    PY=$VENV/bin/python
    echo "=== torch $TORCH + torchvision $VISION in $VENV"
    [ -x "$PY" ] || "$PYTHON" -m venv "$VENV" || { SUMMARY+=("torch $TORCH: FAILED (venv)"); STATUS=1; continue; }
    printf 'torch==%s\ntorchvision==%s\n' "$TORCH" "$VISION" > "$VENV/constraints.txt"
    if ! install_into "$PY" "$TORCH" "$VISION" "$VENV/constraints.txt"; then
        SUMMARY+=("torch $TORCH: FAILED (pip install, see above)")
        STATUS=1
        continue
    fi
    VERSIONS_LINE=$("$PY" -c 'import importlib.metadata as m, platform
names = ["torch", "torchvision", "mmengine", "mmcv-lite", "numpy", "opencv-python"]
print(f"python {platform.python_version()}, " + ", ".join(f"{n} {m.version(n)}" for n in names))')
    echo "$VERSIONS_LINE"
    if ! "$PY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH')"; then
        SUMMARY+=("torch $TORCH: FAILED (the venv has another torch: $VERSIONS_LINE)")
        STATUS=1
        continue
    fi
    XDIST=()
    "$PY" -c 'import xdist' 2>/dev/null && [ "$JOBS" -gt 1 ] && XDIST=(-n "$JOBS")
    SETUP=$(( SECONDS - START ))
    START=$SECONDS
    ( cd "$REPO" && PYTHONPATH=$REPO OMP_NUM_THREADS=1 "$PY" -m pytest -q -p no:cacheprovider "${XDIST[@]}" \
        --junitxml="$VENV/pytest.xml" "${TESTS[@]}" )
    RC=$?
    ELAPSED=$(( SECONDS - START ))
    COUNTS=$("$PY" - "$VENV/pytest.xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET

try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print('no results')
    sys.exit()
suites = [root] if root.tag == 'testsuite' else list(root.iter('testsuite'))
total = {key: sum(int(suite.get(key, 0)) for suite in suites) for key in ('tests', 'failures', 'errors', 'skipped')}
passed = total['tests'] - total['failures'] - total['errors'] - total['skipped']
print(f"{passed} passed, {total['failures']} failed, {total['errors']} errors, {total['skipped']} skipped")
EOF
)
    [ "$RC" -eq 0 ] && RESULT=ok || { RESULT="FAILED (pytest exit $RC)"; STATUS=1; }
    SUMMARY+=("torch $TORCH: $RESULT: $COUNTS in ${ELAPSED} s (install ${SETUP} s; $VERSIONS_LINE)")
done
echo "=== summary ($(nproc) cores, $JOBS pytest workers)"
printf '%s\n' "${SUMMARY[@]}"
exit "$STATUS"
