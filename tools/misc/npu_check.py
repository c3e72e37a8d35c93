"""The first hour on an Ascend host: what ``bash tools/npu_check.sh`` runs, and the JSON it writes.

    bash tools/npu_check.sh                      # NPU: 50 iterations per run, report in work_dirs/npu_check/
    bash tools/npu_check.sh --device cpu --iters 4 --out /tmp/npu_check.json

It prints the machine's facts (chip, SoC version, CANN, driver, torch, torch-npu), then runs and times
these steps, each reported pass / fail / skipped; a failed step does not stop the later ones:

    launch_env               tools/launch_env.sh: CANN's set_env.sh found and sourced, the device probed
    train_1dev_amp_eager     the demo config (configs/synthetic_demo.py) for N iterations on one device, --amp
    train_1dev_amp_compiled  the same with --compile (torchair on npu, Inductor elsewhere)
    train_2dev               NPROC=2 bash run_8p.sh: two devices with HCCL (skipped with fewer than two)
    first_loss_vs_cpu        one batch's loss at initialisation, on the device with AMP against float32 on CPU
    loss_scale_moves         the dynamic loss scaler's ``loss_scale`` changes during the eager run
    cpu_fallback_ops         operators that torch_npu announced running on the host CPU instead of the NPU
    throughput               images/s of each training run

The training runs are the product's own run scripts (``run_1p.sh``, ``run_8p.sh``) on a config written to
the work dir: the demo config with an ``IterBasedTrainLoop`` of exactly N iterations, every iteration
logged, no validation, no checkpoint, and the loss scaler's growth interval shortened to N // 5, so
that a working dynamic scaler has to move within the run (it grows after that many clean steps and
halves on overflow). Everything the steps read comes from the runs' ``scalars.json`` (found and read
with ``tools/misc/run_summary.py``'s functions, the figures its summary lines print) and their logs.

CPU fallbacks are read from torch_npu's own warnings in every run's log: torch_npu prints one for each
operator that has no NPU kernel and runs on the host instead (once per operator and process, whatever
the log level), naming the operator. That needs no profiler, whose traces differ between torch-npu
releases and would slow the runs being timed. Operators CANN places on the NPU's own AI CPU are not
host fallbacks and are not listed.

On ``--device cpu`` (CI) the same logic runs: ``--amp`` is bfloat16 autocast with torch's CPU
GradScaler (what the product does on CPUs with native bfloat16; the check config names the dtype, so
CPUs without it run it too), the first-loss comparison repeats float32 on the same CPU
(it must agree) and compares bfloat16 autocast against float32, and no operator can fall back.

The JSON file (path printed at the end) is what an Ascend user sends with a bug report: facts, the
settings, and every step's record (name, status, seconds, details, and the tail of its log on failure).
It is rewritten after each step, so a run cut short still leaves its report. Exit status: 0 when no step
failed, 1 otherwise.

This module runs without torch (the standard library only): torch is imported in child processes
(``npu_check_facts.py``, the run scripts, and ``npu_check.py first-loss``), since ``import torch`` can
fail or crash on a host whose CANN is broken, and the report must still be written.
"""
import argparse
import copy
import datetime
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
SCHEMA = 'ssd_npu.npu_check/1'
DEFAULT_CONFIG = 'configs/synthetic_demo.py'
DEFAULT_ITERS = 50
DEFAULT_STEP_TIMEOUT_S = 1800
PASS, FAIL, SKIPPED = 'pass', 'fail', 'skipped'
LOG_TAIL_LINES = 60
LOG_TAIL_CHARS = 6000

# Relative tolerance of the first loss against float32 on CPU, by the device run's precision. The loss
# at initialisation moves by ~1e-5 under bf16 autocast on CPU; a broken operator moves it by far more.
LOSS_RTOL = {'float16': 1e-2, 'bfloat16': 2e-2, 'float32': 1e-3}
LOSS_ATOL = 1e-4
# The product's autocast dtype per device (ssd_npu.engine.optimizers.DEFAULT_AMP_DTYPE; read there by
# the first-loss child, repeated here only to describe the settings before any child has run).
AMP_DTYPE_HINT = {'npu': 'float16', 'cuda': 'float16', 'cpu': 'bfloat16'}
# The collective backend per device (mmcv_patches.dist_utils chooses it in the runs).
DIST_BACKEND_HINT = {'npu': 'HCCL', 'cuda': 'NCCL', 'cpu': 'gloo'}

# Variables of the launch (set by tools/npu_check.sh around tools/launch_env.sh).
LAUNCH_STATUS_VAR = 'SSD_NPU_CHECK_LAUNCH_STATUS'
LAUNCH_LOG_VAR = 'SSD_NPU_CHECK_LAUNCH_LOG'
LAUNCH_SECONDS_VAR = 'SSD_NPU_CHECK_LAUNCH_SECONDS'
CANN_ENV_VAR = 'SSD_NPU_CHECK_CANN_ENV'
CANN_CANDIDATES_VAR = 'SSD_NPU_CHECK_CANN_CANDIDATES'
CALLER_DIR_VAR = 'SSD_NPU_CHECK_CALLER_DIR'
# Environment variables worth a line in a report (Ascend's and the product's settings; values kept).
REPORTED_ENV_PREFIXES = ('ASCEND_', 'HCCL_', 'TORCH_NPU_', 'SSD_NPU_', 'ACL_')
REPORTED_ENV_NAMES = ('TASK_QUEUE_ENABLE', 'PYTORCH_NPU_ALLOC_CONF', 'INF_NAN_MODE_ENABLE', 'NPU_ASD_ENABLE',
                      'TORCH_DEVICE_BACKEND_AUTOLOAD', 'OMP_NUM_THREADS', 'CUDA_VISIBLE_DEVICES')


def _load_run_summary() -> Any:
    """``tools/misc/run_summary.py`` (finding and reading a run's scalars.json), loaded from its file."""
    path = Path(__file__).resolve().parent / 'run_summary.py'
    spec = importlib.util.spec_from_file_location('run_summary', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_summary = _load_run_summary()


# ----------------------------------------------------------------------------------------------------
# CANN and driver versions, read from the files CANN's installer writes (no torch, no CANN library).
# ----------------------------------------------------------------------------------------------------

def parse_key_values(text: str) -> Dict[str, str]:
    """``key=value`` lines of an install or version file (comments and other lines ignored)."""
    values: Dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#') or '=' not in line:
            continue
        key, value = line.split('=', 1)
        values[key.strip()] = value.strip().strip('"\'')
    return values


def version_in(values: Dict[str, str]) -> Optional[str]:
    """The version a CANN info file states: ``version=``/``Version=``, else a ``*_running_version=[A:B]``
    entry of ``version.cfg`` (B, the release name)."""
    for key, value in values.items():
        if key.lower() in ('version', 'package_version') and value:
            return value
    for key, value in values.items():
        if key.lower().endswith('running_version') and value:
            inner = value.strip('[]')
            return inner.split(':')[-1] or inner
    return None


def _read_text(path: Path) -> Optional[str]:
    try:
        return path.read_text(errors='replace')
    except OSError:
        return None


def cann_roots(set_env_paths: Sequence[str], environ: Dict[str, str]) -> List[Path]:
    """The CANN folders to read versions in: that of each ``set_env.sh`` tools/launch_env.sh sourced or
    looked for, and ``ASCEND_HOME_PATH`` / ``ASCEND_TOOLKIT_HOME`` (set by a sourced set_env.sh); each
    also with its ``latest`` subfolder. Only existing folders, in that order, without repeats."""
    roots: List[Path] = []
    for name in ('ASCEND_HOME_PATH', 'ASCEND_TOOLKIT_HOME'):
        if environ.get(name):
            roots.append(Path(environ[name]))
    roots.extend(Path(path).parent for path in set_env_paths if path)
    found: List[Path] = []
    for root in roots:
        for folder in (root, root / 'latest'):
            if folder.is_dir() and folder not in found:
                found.append(folder)
    return found


def cann_facts(set_env_paths: Sequence[str], sourced: str, environ: Dict[str, str]) -> Dict[str, Any]:
    """CANN's version and where it was read, from the install-info and version files under the CANN roots.

    Read: ``<root>/*/ascend_*_install.info`` and ``<root>/ascend_*_install.info`` (toolkit, nnae, cann:
    ``version=``), ``<root>/version.cfg`` (``*_running_version=[...]``) and ``<root>/*/version.info``
    (components: runtime, compiler, opp...). Missing files are no error: ``version`` is then None.
    """
    roots = cann_roots(set_env_paths, environ)
    files: Dict[str, str] = {}
    components: Dict[str, str] = {}
    version: Optional[str] = None
    source: Optional[str] = None
    for root in roots:
        info_files = sorted(root.glob('ascend_*_install.info')) + sorted(root.glob('*/ascend_*_install.info'))
        for path in info_files + [root / 'version.cfg', root / 'version.info']:
            text = _read_text(path) if path.is_file() else None
            found = version_in(parse_key_values(text)) if text is not None else None
            if found:
                files[str(path)] = found
                if version is None:
                    version, source = found, str(path)
        for path in sorted(root.glob('*/version.info')):
            text = _read_text(path)
            found = version_in(parse_key_values(text)) if text is not None else None
            if found:
                components.setdefault(path.parent.name, found)
                files[str(path)] = found
    if version is None and components:
        name = next((n for n in ('runtime', 'compiler', 'toolkit') if n in components), sorted(components)[0])
        version, source = components[name], f'{name}/version.info'
    facts: Dict[str, Any] = {'version': version, 'source': source, 'set_env': sourced or None,
                             'ascend_home_path': environ.get('ASCEND_HOME_PATH'),
                             'roots': [str(root) for root in roots], 'files': files, 'components': components}
    if roots and version is None:
        facts['note'] = 'no CANN version file (ascend_*_install.info, version.cfg, */version.info) there'
    elif not roots:
        facts['note'] = 'no CANN folder (none of the set_env.sh locations of tools/launch_env.sh exists)'
    return facts


def driver_facts(roots: Sequence[Path], environ: Dict[str, str]) -> Dict[str, Any]:
    """The NPU driver's version from ``<Ascend prefix>/driver/version.info`` (the prefix above the
    CANN roots, and ``SSD_NPU_CANN_PREFIX`` or /usr/local/Ascend)."""
    prefixes: List[Path] = [Path(environ.get('SSD_NPU_CANN_PREFIX') or '/usr/local/Ascend')]
    for root in roots:
        prefixes.extend(parent for parent in list(root.parents)[:3])
    for prefix in prefixes:
        path = prefix / 'driver' / 'version.info'
        text = _read_text(path) if path.is_file() else None
        if text is not None:
            return {'version': version_in(parse_key_values(text)), 'source': str(path)}
    return {'version': None, 'source': None}


def npu_smi_summary(timeout_s: float = 30) -> Optional[str]:
    """``npu-smi info`` (Ascend's device table: chips, health, driver), or None where it is not installed."""
    if shutil.which('npu-smi') is None:
        return None
    try:
        done = subprocess.run(['npu-smi', 'info'], capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f'npu-smi info failed: {error}'
    return '\n'.join((done.stdout + done.stderr).splitlines()[:80])


# ----------------------------------------------------------------------------------------------------
# What the logs and scalars say.
# ----------------------------------------------------------------------------------------------------

# torch_npu's wordings (torch-npu 2.6 to 2.14): "The operator 'aten::x' is not currently supported on the
# NPU backend and will fall back to run on the CPU.", "The operator aten::x ... is currently not supported
# on the NPU backend. Now this operator will fallback to run on the CPU ...", "... does not support
# operator 'aten::x', the operator will fall back to CPU.", "... but CPU fallback is disabled by ...".
_FALLBACK_LINE = re.compile(r'fall\s*back\s+to\s+(?:run\s+on\s+)?(?:the\s+)?cpu|cpu\s+fallback',
                            re.IGNORECASE)
_OPERATOR = re.compile(r'\b((?:aten|npu|torchvision|c10d)::[A-Za-z0-9_.]*[A-Za-z0-9_])')


def cpu_fallback_ops(text: str, max_lines: int = 20) -> Dict[str, Any]:
    """The operators a log says ran on the host CPU instead of the NPU, from torch_npu's warnings.

    torch_npu warns once per operator and process when it falls back, so every run's log names each
    operator at most once. Returns ``ops`` (sorted names), ``lines`` (the distinct warning lines, at
    most ``max_lines``) and ``unnamed`` (fallback lines without an operator name).
    """
    ops: set = set()
    lines: List[str] = []
    unnamed = 0
    for line in text.splitlines():
        if not _FALLBACK_LINE.search(line):
            continue
        names = _OPERATOR.findall(line)
        ops.update(names)
        unnamed += not names
        stripped = line.strip()
        if stripped not in lines and len(lines) < max_lines:
            lines.append(stripped)
    return {'ops': sorted(ops), 'lines': lines, 'unnamed': unnamed}


def within_tolerance(reference: float, value: float, dtype: str) -> Dict[str, Any]:
    """Whether ``value`` agrees with ``reference`` for a run in ``dtype`` (``LOSS_RTOL``, ``LOSS_ATOL``):
    both finite and ``|value - reference| <= atol + rtol * |reference|``."""
    rtol = LOSS_RTOL[dtype]
    finite = math.isfinite(reference) and math.isfinite(value)
    diff = abs(value - reference) if finite else math.inf
    return {'reference': reference, 'value': value, 'abs_diff': diff,
            'rel_diff': diff / abs(reference) if finite and reference else (0.0 if diff == 0 else math.inf),
            'rtol': rtol, 'atol': LOSS_ATOL, 'within': finite and diff <= LOSS_ATOL + rtol * abs(reference)}


def compare_first_losses(result: Dict[str, Any]) -> Tuple[str, Dict[str, Any]]:
    """The verdict of the first-loss step from the child's raw numbers (``npu_check.py first-loss``).

    Decided: the device with autocast (``amp_dtype``) against float32 on CPU, and float32 on the device
    against float32 on CPU. Informative only: the gradient norms (fp16 backward differs more).
    """
    device, dtype = result['device'], result['amp_dtype']
    reference = result['cpu_float32']
    comparisons = []
    for key, run_dtype in (('device_amp', dtype), ('device_float32', 'float32')):
        check = within_tolerance(reference['loss'], result[key]['loss'], run_dtype)
        check['what'] = f'{device} {"autocast " if key == "device_amp" else ""}{run_dtype} vs cpu float32'
        comparisons.append(check)
    runs = ('cpu_float32', 'device_float32', 'device_amp')
    grad_norms = {key: result[key].get('grad_norm') for key in runs}
    ref_norm = grad_norms['cpu_float32']
    grad_rel = {key: (abs(value - ref_norm) / ref_norm if value is not None and ref_norm else None)
                for key, value in grad_norms.items() if key != 'cpu_float32'}
    details: Dict[str, Any] = {'device': device, 'amp_dtype': dtype, 'comparisons': comparisons,
                               'losses': {key: result[key] for key in runs},
                               'grad_norm_rel_diff': grad_rel,
                               'grad_norm_note': 'informative, not decided: fp16 gradients differ more',
                               'batch': result.get('batch')}
    if device == 'cpu':
        details['note'] = ('device cpu: the float32 run repeats the CPU reference on the same batch (it must '
                           'agree), and the AMP run is bfloat16 autocast, the product\'s AMP on CPU')
    return (PASS if all(check['within'] for check in comparisons) else FAIL), details


def loss_scale_verdict(values: Sequence[float], growth_interval: int) -> Tuple[str, Dict[str, Any]]:
    """Whether the logged loss scale shows a working dynamic scaler: present, finite and positive,
    changed at least once, and not lowered at every iteration (every step an overflow)."""
    details: Dict[str, Any] = {'growth_interval': growth_interval, 'values': list(values)}
    if not values:
        details['reason'] = 'no loss_scale logged: not an AMP run (AmpOptimWrapper logs train/loss_scale)'
        return FAIL, details
    if not all(math.isfinite(value) and value > 0 for value in values):
        details['reason'] = 'the loss scale became non-finite or zero'
        return FAIL, details
    pairs = list(zip(values, values[1:]))
    increases = sum(later > earlier for earlier, later in pairs)
    decreases = sum(later < earlier for earlier, later in pairs)
    details.update(first=values[0], last=values[-1], min=min(values), max=max(values),
                   increases=increases, decreases=decreases)
    if not increases and not decreases:
        details['reason'] = (f'stayed at {values[0]:g} for {len(values)} iterations, although a dynamic '
                             f'scaler grows after {growth_interval} clean steps and halves on an overflow')
        return FAIL, details
    if not increases and decreases == len(pairs):
        details['reason'] = 'lowered at every iteration: every step overflowed, no step updated the weights'
        return FAIL, details
    return PASS, details


def train_records(work_dir: Path) -> List[dict]:
    """The training records (those with a loss) of the newest scalars.json in ``work_dir``."""
    scalars = run_summary.newest_scalars(work_dir)
    if scalars is None:
        return []
    return [record for record in run_summary.read_records(scalars) if 'loss' in record and 'iter' in record]


def throughput(records: Sequence[dict]) -> Dict[str, Any]:
    """Images/s of a run: the median over the iterations after warm-up (the first tenth, at least one:
    graph compilation, allocator growth), and the last iteration's figure that run_summary.py reports."""
    values = [float(record['img_per_s_all']) for record in records if 'img_per_s_all' in record]
    per_device = [float(record['img_per_s']) for record in records if 'img_per_s' in record]
    if not values:
        return {'img_per_s': None}
    warmup = max(1, len(values) // 10) if len(values) > 1 else 0
    result = {'img_per_s': statistics.median(values[warmup:]), 'warmup_iters': warmup,
              'img_per_s_last': run_summary.final_throughput(list(records))}
    if per_device:
        result['img_per_s_per_device'] = statistics.median(per_device[warmup:])
        if result['img_per_s_per_device']:
            result['world_size'] = round(result['img_per_s'] / result['img_per_s_per_device'])
    return result


def log_tail(text: str, lines: int = LOG_TAIL_LINES, chars: int = LOG_TAIL_CHARS) -> str:
    """The last ``lines`` lines of a log, at most ``chars`` characters."""
    return '\n'.join(text.splitlines()[-lines:])[-chars:]


def _first_match(pattern: str, text: str) -> Optional[str]:
    match = re.search(pattern, text)
    return match.group(1) if match else None


def run_details(records: Sequence[dict], log: str, work_dir: Path) -> Dict[str, Any]:
    """What a training run's scalars and log say: iterations, losses, scale, speed, precision, compile."""
    losses = [float(record['loss']) for record in records]
    details: Dict[str, Any] = {'iterations_logged': len(records), 'losses': [round(x, 5) for x in losses],
                               'first_loss': losses[0] if losses else None,
                               'last_loss': losses[-1] if losses else None,
                               'losses_finite': all(math.isfinite(x) for x in losses) if losses else None}
    if records:
        details['first_iter_s'] = records[0].get('time')
        memory = [record['memory'] for record in records if 'memory' in record]
        if memory:
            details['max_memory_mib'] = max(memory)
    details.update(throughput(records))
    dumped = sorted(work_dir.glob('*/vis_data/config.py'))
    config_text = _read_text(dumped[-1]) if dumped else None
    if config_text:
        details['amp_dtype'] = _first_match(r"dtype='(float16|bfloat16)'", config_text)
        details['dist_backend'] = _first_match(r"dist_cfg\s*=\s*dict\(\s*backend='(\w+)'", config_text)
    compiled = [line.strip() for line in log.splitlines()
                if 'Compiled the' in line and 'torch.compile' in line]
    if compiled:
        details['compile_log_line'] = compiled[0][-400:]
        details['graph_breaks'] = len(re.findall(r'Graph break', log))
        details['recompilations'] = len(re.findall(r'Recompiling function', log))
    return details


# ----------------------------------------------------------------------------------------------------
# Steps: each timed and recorded; an exception or a failed command is that step's failure only.
# ----------------------------------------------------------------------------------------------------

@dataclass
class StepRecord:
    """One step of the report."""

    name: str
    what: str
    status: str = SKIPPED
    seconds: float = 0.0
    details: Dict[str, Any] = field(default_factory=dict)
    log: Optional[str] = None
    log_tail: Optional[str] = None


@dataclass
class StepOutcome:
    """What a step function returns: its status and details, and the log it wrote (for the tail)."""

    status: str
    details: Dict[str, Any] = field(default_factory=dict)
    log: Optional[Path] = None


def run_step(name: str, what: str, function: Callable[[], StepOutcome]) -> StepRecord:
    """Run one step, timing it; an exception becomes a failed step with its traceback as the log tail."""
    record = StepRecord(name, what)
    start = time.perf_counter()
    try:
        outcome = function()
    except KeyboardInterrupt:
        raise
    except Exception as error:  # a step's own bug or an unreadable file: that step fails, the others run
        outcome = StepOutcome(FAIL, {'error': f'{type(error).__name__}: {error}'})
        record.log_tail = log_tail(traceback.format_exc())
    record.seconds = round(time.perf_counter() - start, 3)
    record.status, record.details = outcome.status, outcome.details
    if outcome.log is not None:
        record.log = str(outcome.log)
        if outcome.status == FAIL and record.log_tail is None:
            record.log_tail = log_tail(_read_text(outcome.log) or '')
    return record


def run_logged(command: Sequence[str], log_path: Path, env: Dict[str, str], timeout_s: float,
               cwd: Path = REPO) -> Tuple[int, bool]:
    """Run ``command`` with stdout and stderr into ``log_path``; returns (exit status, timed out).

    It runs in its own process group, which is ended (SIGTERM, then SIGKILL) when it passes
    ``timeout_s`` or this process is interrupted: a hung collective does not hang the check.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, 'w') as log:
        log.write(f'$ {" ".join(command)}\n')
        log.flush()
        process = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            return process.wait(timeout=timeout_s), False
        except subprocess.TimeoutExpired:
            _end_group(process)
            log.write(f'\n[npu_check] ended after {timeout_s:g} s (--step-timeout)\n')
            return -1, True
        except KeyboardInterrupt:
            _end_group(process)
            raise


def _end_group(process: subprocess.Popen) -> None:
    """Stop the process group led by ``process`` (started by :func:`run_logged`)."""
    for sig, wait_s in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue



def assemble_report(facts: Dict[str, Any], settings: Dict[str, Any], steps: Sequence[StepRecord],
                    finished: bool) -> Dict[str, Any]:
    """The JSON report: facts, settings, the steps, and which passed, failed and were skipped."""
    summary = {status: [step.name for step in steps if step.status == status]
               for status in (PASS, FAIL, SKIPPED)}
    return {'schema': SCHEMA, 'created': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
            'finished': finished, 'ok': finished and not summary[FAIL], 'facts': facts, 'settings': settings,
            'steps': [asdict(step) for step in steps], 'summary': summary}


def write_json(path: Path, data: Dict[str, Any]) -> None:
    """Write ``data`` to ``path`` whole (a temporary file renamed), so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + '.tmp')
    temporary.write_text(json.dumps(data, indent=1, default=str, allow_nan=True) + '\n')
    os.replace(temporary, path)


def exit_status(steps: Sequence[StepRecord]) -> int:
    """0 when no step failed, else 1."""
    return 1 if any(step.status == FAIL for step in steps) else 0


# ----------------------------------------------------------------------------------------------------
# The check.
# ----------------------------------------------------------------------------------------------------

CHECK_CONFIG = '''\
# Written by tools/misc/npu_check.py: {base} for exactly {iters} training iterations, each one logged,
# without validation or checkpoints; the dynamic loss scaler grows after {growth} clean steps (instead
# of 2000), so that a working scaler moves within the run. On CPU it names bfloat16: there --amp alone
# trains in float32 on CPUs without native bfloat16, and this checks the AMP path.
_base_ = [{base!r}]
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters={iters}, val_interval={never})
val_cfg = None
val_dataloader = None
val_evaluator = None
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=-1, save_last=False, save_best=None))
optim_wrapper = dict(loss_scale=dict(growth_interval={growth}){dtype})
'''


def git_facts() -> Dict[str, Any]:
    """The checkout's commit and whether it has local changes."""
    def git(*args: str) -> Optional[str]:
        try:
            done = subprocess.run(['git', '-C', str(REPO), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git('status', '--porcelain', '--untracked-files=no')
    changed = None if status is None else len(status.splitlines())
    return {'commit': git('rev-parse', 'HEAD'), 'changed_files': changed}


def reported_environment(environ: Dict[str, str]) -> Dict[str, str]:
    """The Ascend and product settings of the environment (``REPORTED_ENV_*``)."""
    return {name: value for name, value in sorted(environ.items())
            if (name.startswith(REPORTED_ENV_PREFIXES) or name in REPORTED_ENV_NAMES)
            and not name.startswith('SSD_NPU_CHECK_')}


class NpuCheck:
    """The steps of ``tools/npu_check.sh`` for one device, and the report they fill."""

    def __init__(self, args: argparse.Namespace, environ: Optional[Dict[str, str]] = None) -> None:
        self.args = args
        self.environ = dict(os.environ if environ is None else environ)
        caller = Path(self.environ.get(CALLER_DIR_VAR) or os.getcwd())
        stamp = time.strftime('%Y%m%d_%H%M%S')
        default_dir = REPO / 'work_dirs' / 'npu_check'
        self.work_dir = (caller / args.work_dir if args.work_dir else default_dir / stamp).resolve()
        self.out = (caller / args.out if args.out else default_dir / f'npu_check_{stamp}.json').resolve()
        config = Path(args.config)
        if not config.is_absolute():
            config = caller / config if (caller / config).is_file() else REPO / config
        self.config = config.resolve()
        self.iters = args.iters
        self.growth_interval = args.growth_interval or max(2, self.iters // 5)
        self.steps: List[StepRecord] = []
        self.facts: Dict[str, Any] = {}
        self.device: Optional[str] = args.device or self.environ.get('SSD_NPU_DEVICE') or None
        self.check_config = self.work_dir / 'check_config.py'
        self.runs: Dict[str, Dict[str, Any]] = {}  # step name -> work_dir, records, log text, status
        self.launch_ok = self.environ.get(LAUNCH_STATUS_VAR, '0') == '0'
        self.argv: List[str] = []

    # -- facts and settings ------------------------------------------------------------------------

    def child_env(self, **extra: str) -> Dict[str, str]:
        """The environment of the runs: this one, the device chosen, and this Python for the run scripts."""
        env = {key: value for key, value in self.environ.items() if not key.startswith('SSD_NPU_CHECK_')}
        pythonpath = env.get('PYTHONPATH', '')
        if str(REPO) not in pythonpath.split(os.pathsep):
            env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(REPO), pythonpath]))
        env.setdefault('PYTHON', sys.executable)
        if self.device:
            env['SSD_NPU_DEVICE'] = self.device
        env.update(extra)
        return env

    def collect_facts(self) -> None:
        """Torch-side facts (``npu_check_facts.py``, in its own process), CANN and driver files, host,
        checkout."""
        command = [sys.executable, str(Path(__file__).resolve().parent / 'npu_check_facts.py')]
        if self.device:
            command += ['--device', self.device]
        facts: Dict[str, Any] = {}
        try:
            done = subprocess.run(command, cwd=REPO, env=self.child_env(), capture_output=True, text=True,
                                  timeout=self.args.facts_timeout)
            lines = [line for line in done.stdout.splitlines() if line.startswith('{')]
            if lines:
                facts.update(json.loads(lines[-1]))
            else:
                tail = log_tail(done.stderr, 20)
                facts['facts_error'] = f'npu_check_facts.py exited {done.returncode}: {tail}'
        except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as error:
            facts['facts_error'] = f'{type(error).__name__}: {error}'
        candidates = [line for line in self.environ.get(CANN_CANDIDATES_VAR, '').splitlines() if line.strip()]
        sourced = self.environ.get(CANN_ENV_VAR, '')
        facts['cann'] = cann_facts([sourced, *candidates] if sourced else candidates, sourced, self.environ)
        facts['driver'] = driver_facts([Path(root) for root in facts['cann']['roots']], self.environ)
        facts['npu_smi'] = npu_smi_summary() if self.device in (None, 'npu') else None
        facts['ssd_npu'] = git_facts()
        facts['host'] = {'platform': platform.platform(), 'machine': platform.machine(),
                         'cpu_count': os.cpu_count(), 'python': platform.python_version()}
        facts['environment'] = reported_environment(self.environ)
        self.facts = facts
        if not self.device:
            self.device = facts.get('device')

    def settings(self) -> Dict[str, Any]:
        """How the check ran: config, iterations, precision, seeds, compile backend, extra options."""
        return {'command': ['bash', 'tools/npu_check.sh', *self.argv], 'device': self.device,
                'config': str(self.config), 'check_config': str(self.check_config), 'iters': self.iters,
                'amp': True, 'amp_dtype': AMP_DTYPE_HINT.get(self.device or ''), 'seed': self.args.seed,
                'loss_scale_growth_interval': self.growth_interval,
                'compile_backend': self.args.compile_backend or 'the product default for the device',
                'cfg_options': self.args.cfg_options, 'step_timeout_s': self.args.step_timeout,
                'work_dir': str(self.work_dir), 'loss_rtol': LOSS_RTOL, 'loss_atol': LOSS_ATOL}

    def print_facts(self) -> None:
        """The header lines: device, chip, SoC version, CANN, driver, torch and torch-npu."""
        facts, cann, driver = self.facts, self.facts.get('cann', {}), self.facts.get('driver', {})
        soc = facts.get('soc_version')
        soc_text = 'n/a' if soc is None else f"{soc} ({facts.get('soc_generation', '')})"
        cann_source = f" ({cann['source']})" if cann.get('source') else ''
        print(f"device: {self.device or 'unknown'} ({facts.get('device_count', '?')} visible), "
              f"chip: {facts.get('chip', 'unknown')}, SoC version: {soc_text}")
        print(f"CANN: {cann.get('version') or 'not found'}{cann_source}, "
              f"driver: {driver.get('version') or 'not found'}")
        print(f"torch: {facts.get('torch')}, torch-npu: {facts.get('torch_npu') or 'not installed'}, "
              f"mmengine: {facts.get('mmengine')}, python: {facts.get('python')}")
        for key in ('torch_error', 'device_error', 'facts_error'):
            if facts.get(key):
                print(f'{key}: {facts[key]}')

    def save(self, finished: bool) -> Dict[str, Any]:
        """Write the report as it stands."""
        report = assemble_report(self.facts, self.settings(), self.steps, finished)
        write_json(self.out, report)
        return report

    # -- steps ---------------------------------------------------------------------------------------

    def step_launch_env(self) -> StepOutcome:
        """tools/launch_env.sh as tools/npu_check.sh sourced it (its status and messages)."""
        log = self.environ.get(LAUNCH_LOG_VAR, '')
        details: Dict[str, Any] = {'device': self.environ.get('SSD_NPU_DEVICE'),
                                   'cann_set_env': self.environ.get(CANN_ENV_VAR) or None,
                                   'messages': log.splitlines()[-20:]}
        if LAUNCH_STATUS_VAR not in self.environ:
            details['reason'] = 'not started by tools/npu_check.sh (each run script sources launch_env.sh)'
            return StepOutcome(SKIPPED, details)
        status = PASS if self.launch_ok else FAIL
        if status == FAIL:
            details['reason'] = 'tools/launch_env.sh could not prepare the device (see its messages)'
        return StepOutcome(status, details)

    def _launch_failed(self) -> Optional[StepOutcome]:
        if self.launch_ok:
            return None
        last = (self.environ.get(LAUNCH_LOG_VAR, '').strip().splitlines() or ['(no message)'])[-1]
        return StepOutcome(SKIPPED, {'reason': f'not run: tools/launch_env.sh failed ({last.strip()})'})

    def write_check_config(self) -> None:
        """The demo config for exactly ``iters`` iterations (:data:`CHECK_CONFIG`)."""
        self.check_config.parent.mkdir(parents=True, exist_ok=True)
        self.check_config.write_text(CHECK_CONFIG.format(
            base=str(self.config), iters=self.iters, never=self.iters + 1, growth=self.growth_interval,
            dtype=", dtype='bfloat16'" if self.device == 'cpu' else ''))

    def step_train(self, name: str, nproc: int = 1, compiled: bool = False) -> StepOutcome:
        """One training run through the product's run script; pass when it exits 0 having logged every
        iteration with a finite loss."""
        skipped = self._launch_failed()
        if skipped:
            return skipped
        work_dir = self.work_dir / name
        if work_dir.exists():
            shutil.rmtree(work_dir)
        options = list(self.args.cfg_options or [])
        if compiled and self.args.compile_backend:
            options.append(f'compile.backend={self.args.compile_backend}')
        script = REPO / ('run_1p.sh' if nproc == 1 else 'run_8p.sh')
        command = ['bash', str(script), str(self.check_config), '--amp', '--seed', str(self.args.seed)]
        command += ['--compile'] if compiled else []
        command += ['--cfg-options', *options] if options else []
        extra = {'WORK_DIR': str(work_dir)}
        if nproc > 1:
            from ssd_npu.utils import free_local_port
            extra.update(NPROC=str(nproc), MASTER_PORT=str(free_local_port()))
        if compiled:
            extra['TORCH_LOGS'] = self.environ.get('TORCH_LOGS') or 'graph_breaks,recompiles'
        log_path = self.work_dir / f'{name}.log'
        rc, timed_out = run_logged(command, log_path, self.child_env(**extra), self.args.step_timeout)
        text = _read_text(log_path) or ''
        records = train_records(work_dir)
        details = {'command': command, 'exit_status': rc, 'timed_out': timed_out, 'work_dir': str(work_dir),
                   'processes': nproc, **run_details(records, text, work_dir)}
        self.runs[name] = {'records': records, 'log': text}
        problems = []
        if rc != 0:
            problems.append('timed out' if timed_out else f'exit status {rc}')
        if len(records) < self.iters:
            problems.append(f'{len(records)} of {self.iters} iterations logged')
        if records and not details['losses_finite']:
            problems.append('a non-finite loss')
        if compiled and 'compile_log_line' not in details:
            problems.append('the log does not say the model was compiled')
        eager = self.runs.get('train_1dev_amp_eager', {}).get('records')
        if compiled and eager and records:
            # Informative: the eager run's seed, device and first batch; compiled kernels may round apart.
            first = float(eager[0]['loss'])
            diff = abs(details['first_loss'] - first)
            details['first_loss_rel_diff_vs_eager'] = diff / max(abs(first), 1e-12)
        if problems:
            details['reason'] = '; '.join(problems)
        return StepOutcome(FAIL if problems else PASS, details, log_path)

    def step_two_devices(self) -> StepOutcome:
        """Two processes on two devices (HCCL on npu), when this host shows two or more."""
        skipped = self._launch_failed()
        if skipped:
            return skipped
        count = self.facts.get('device_count')
        if not isinstance(count, int) or count < 2:
            seen = 'unknown' if count is None else count
            return StepOutcome(SKIPPED, {'reason': f'needs 2 devices, {seen} visible on {self.device}',
                                         'device_count': count})
        outcome = self.step_train('train_2dev', nproc=2)
        outcome.details['expected_backend'] = DIST_BACKEND_HINT.get(self.device or '')
        if outcome.status == PASS and outcome.details.get('world_size') != 2:
            outcome.status = FAIL
            world = outcome.details.get('world_size')
            outcome.details['reason'] = f'world size {world} in the logged speeds, not 2'
        return outcome

    def step_first_loss(self) -> StepOutcome:
        """One batch's loss at initialisation on the device (fp32, and autocast as --amp) against CPU fp32,
        in a child process (``npu_check.py first-loss``)."""
        skipped = self._launch_failed()
        if skipped:
            return skipped
        result_path = self.work_dir / 'first_loss.json'
        result_path.unlink(missing_ok=True)
        command = [sys.executable, str(Path(__file__).resolve()), 'first-loss',
                   '--config', str(self.check_config), '--device', self.device or 'npu',
                   '--seed', str(self.args.seed), '--out', str(result_path)]
        if self.args.cfg_options:
            command += ['--cfg-options', *self.args.cfg_options]
        log_path = self.work_dir / 'first_loss_vs_cpu.log'
        rc, timed_out = run_logged(command, log_path, self.child_env(), self.args.step_timeout)
        self.runs['first_loss_vs_cpu'] = {'records': [], 'log': _read_text(log_path) or ''}
        if rc != 0 or not result_path.is_file():
            details = {'command': command, 'exit_status': rc, 'timed_out': timed_out}
            return StepOutcome(FAIL, details, log_path)
        status, details = compare_first_losses(json.loads(result_path.read_text()))
        return StepOutcome(status, details, log_path)

    def _scalars_source(self) -> Optional[str]:
        for name in ('train_1dev_amp_eager', 'train_1dev_amp_compiled', 'train_2dev'):
            if self.runs.get(name, {}).get('records'):
                return name
        return None

    def step_loss_scale(self) -> StepOutcome:
        """The loss scale logged by the eager run (else the compiled one) every iteration."""
        source = self._scalars_source()
        if source is None:
            return StepOutcome(SKIPPED, {'reason': 'no training run logged an iteration'})
        records = self.runs[source]['records']
        values = [float(record['loss_scale']) for record in records if 'loss_scale' in record]
        status, details = loss_scale_verdict(values, self.growth_interval)
        details['run'] = source
        return StepOutcome(status, details)

    def step_cpu_fallback(self) -> StepOutcome:
        """torch_npu's CPU-fallback warnings in every run's log; fail when an operator fell back."""
        logs = {name: run['log'] for name, run in self.runs.items() if run.get('log')}
        if not any(run.get('records') for run in self.runs.values()) and 'first_loss_vs_cpu' not in self.runs:
            return StepOutcome(SKIPPED, {'reason': 'no run reached its first iteration: no log to read'})
        per_run = {name: cpu_fallback_ops(text) for name, text in logs.items()}
        ops = sorted({op for found in per_run.values() for op in found['ops']})
        unnamed = sum(found['unnamed'] for found in per_run.values())
        details: Dict[str, Any] = {'ops': ops, 'unnamed_lines': unnamed, 'logs_read': sorted(logs),
                                   'per_run': {name: found for name, found in per_run.items()
                                               if found['lines']},
                                   'method': "torch_npu's once-per-operator fallback warnings in the logs"}
        if self.device != 'npu':
            details['note'] = f'device {self.device}: nothing runs on an NPU, nothing can fall back from one'
        if ops or unnamed:
            details['reason'] = 'operators ran on the host CPU instead of the NPU (slow; please report them)'
            return StepOutcome(FAIL, details)
        return StepOutcome(PASS, details)

    def step_throughput(self) -> StepOutcome:
        """Images/s of each run that logged; pass when each of them has a speed above zero."""
        speeds: Dict[str, Any] = {}
        for name in ('train_1dev_amp_eager', 'train_1dev_amp_compiled', 'train_2dev'):
            records = self.runs.get(name, {}).get('records')
            if records:
                speeds[name] = throughput(records)
        if not speeds:
            return StepOutcome(SKIPPED, {'reason': 'no training run logged an iteration'})
        details: Dict[str, Any] = {'runs': speeds, 'unit': 'images/s of all devices, median after warm-up'}
        eager = speeds.get('train_1dev_amp_eager', {}).get('img_per_s')
        if eager:
            ratios = (('train_1dev_amp_compiled', 'compiled_vs_eager'), ('train_2dev', 'two_vs_one_device'))
            for name, key in ratios:
                other = speeds.get(name, {}).get('img_per_s')
                if other:
                    details[key] = round(other / eager, 3)
        slow = [name for name, speed in speeds.items() if not (speed.get('img_per_s') or 0) > 0]
        if slow:
            details['reason'] = f'no positive images/s logged by {", ".join(slow)}'
            return StepOutcome(FAIL, details)
        return StepOutcome(PASS, details)

    # -- the whole check -----------------------------------------------------------------------------

    def plan(self) -> List[Tuple[str, str, Callable[[], StepOutcome]]]:
        """The steps in their order: (name, what, function)."""
        n, backend = self.iters, DIST_BACKEND_HINT.get(self.device or '', 'HCCL')
        return [
            ('launch_env', 'tools/launch_env.sh: CANN environment and device probe', self.step_launch_env),
            ('train_1dev_amp_eager', f'{n} iterations on 1 device, AMP, eager (run_1p.sh --amp)',
             lambda: self.step_train('train_1dev_amp_eager')),
            ('train_1dev_amp_compiled',
             f'{n} iterations on 1 device, AMP, compiled (run_1p.sh --amp --compile)',
             lambda: self.step_train('train_1dev_amp_compiled', compiled=True)),
            ('train_2dev', f'{n} iterations on 2 devices, AMP, {backend} (NPROC=2 run_8p.sh --amp)',
             self.step_two_devices),
            ('first_loss_vs_cpu', 'first loss of one batch: device (AMP and fp32) against CPU fp32',
             self.step_first_loss),
            ('loss_scale_moves', "the dynamic loss scaler's loss_scale changes", self.step_loss_scale),
            ('cpu_fallback_ops', 'operators that ran on the host CPU instead of the NPU',
             self.step_cpu_fallback),
            ('throughput', 'images/s of each training run', self.step_throughput),
        ]

    def run(self, argv: Sequence[str]) -> int:
        """Facts, then every step (the report rewritten after each); returns the exit status."""
        self.argv = list(argv)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.collect_facts()
        self.print_facts()
        self.write_check_config()
        self.save(finished=False)
        plan = self.plan()
        try:
            for index, (name, what, function) in enumerate(plan, 1):
                print(f'[{index}/{len(plan)}] {name}: {what} ...', flush=True)
                record = run_step(name, what, function)
                if name == 'launch_env':
                    record.seconds = float(self.environ.get(LAUNCH_SECONDS_VAR) or record.seconds)
                self.steps.append(record)
                reason = record.details.get('reason')
                print(f'    {record.status} ({record.seconds:.1f} s){": " + reason if reason else ""}'
                      f'{"  log: " + record.log if record.log and record.status == FAIL else ""}', flush=True)
                self.save(finished=False)
        except KeyboardInterrupt:
            self.save(finished=False)
            print(f'interrupted; the report so far: {self.out}', file=sys.stderr)
            return 130
        self.save(finished=True)
        failed = [step.name for step in self.steps if step.status == FAIL]
        print(f"{'FAILED: ' + ', '.join(failed) if failed else 'all steps passed or were skipped'}")
        print(f'npu_check report (send this file with a bug report): {self.out}')
        return exit_status(self.steps)


# ----------------------------------------------------------------------------------------------------
# ``npu_check.py first-loss``: the child process of the first-loss step (imports torch and the product).
# ----------------------------------------------------------------------------------------------------

def _loss_and_grad_norm(model: Any, batch: dict, device: str, amp_dtype: Optional[str]) -> Dict[str, float]:
    """Loss terms and gradient norm of a copy of ``model`` on ``device`` for ``batch``, as train_step
    computes them (the data preprocessor and the forward inside autocast when ``amp_dtype`` is set)."""
    import torch

    replica = copy.deepcopy(model).to(device)
    replica.train()
    device_type = device.split(':')[0]
    autocast = (torch.autocast(device_type, dtype=getattr(torch, amp_dtype)) if amp_dtype
                else torch.autocast(device_type, enabled=False))
    with autocast:
        data = replica.data_preprocessor(copy.deepcopy(batch), True)
        losses = replica(**data, mode='loss')
    loss, log_vars = replica.parse_losses(losses)
    scale = 1024.0  # a fixed scale keeps small fp16 gradients from flushing to zero
    (loss * scale).backward()
    norms = [torch.linalg.vector_norm(p.grad.detach().float())
             for p in replica.parameters() if p.grad is not None]
    result = {key: float(value) for key, value in log_vars.items()}
    result['grad_norm'] = float(torch.linalg.vector_norm(torch.stack(norms))) / scale if norms else None
    return result


def first_loss(config: str, device: Optional[str], seed: int, cfg_options: Optional[dict]) -> Dict[str, Any]:
    """The first batch of the config's train dataloader through one initialised model, three ways:
    float32 on CPU (the reference), float32 on ``device`` and autocast on ``device`` in the product's
    AMP dtype (float16 on npu/cuda, bfloat16 on cpu; the config's ``optim_wrapper.dtype`` if set)."""
    from mmengine.runner import Runner, set_random_seed

    from ssd_npu.config import load_config
    from ssd_npu.engine.optimizers import DEFAULT_AMP_DTYPE
    from ssd_npu.registry import MODELS
    from ssd_npu.setup_env import register_all_modules
    from ssd_npu.utils import get_device

    register_all_modules()
    device = get_device(device)
    cfg = load_config(config, cfg_options)
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.update(num_workers=0, persistent_workers=False, pin_memory=False)
    set_random_seed(seed)
    batch = next(iter(Runner.build_dataloader(loader_cfg, seed=seed)))
    set_random_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    amp_dtype = cfg.get('optim_wrapper', {}).get('dtype') or DEFAULT_AMP_DTYPE[device]
    timings = {}
    results: Dict[str, Any] = {'device': device, 'amp_dtype': str(amp_dtype),
                               'batch': {'images': len(batch['inputs']),
                                         'shape': list(batch['inputs'][0].shape)}}
    for key, run_device, dtype in (('cpu_float32', 'cpu', None), ('device_float32', device, None),
                                   ('device_amp', device, str(amp_dtype))):
        start = time.perf_counter()
        results[key] = _loss_and_grad_norm(model, batch, run_device, dtype)
        timings[key] = round(time.perf_counter() - start, 3)
    results['seconds'] = timings
    return results


def first_loss_main(argv: Sequence[str]) -> int:
    """``npu_check.py first-loss --config C [--device D] [--seed S] --out FILE [--cfg-options ...]``."""
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(prog='npu_check.py first-loss', description=first_loss.__doc__)
    parser.add_argument('--config', required=True)
    parser.add_argument('--device', choices=['npu', 'cuda', 'cpu'])
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', required=True, type=Path)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    result = first_loss(args.config, args.device, args.seed, args.cfg_options)
    print(json.dumps(result, indent=1))
    write_json(args.out, result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The options of ``tools/npu_check.sh`` (all optional)."""
    parser = argparse.ArgumentParser(prog='bash tools/npu_check.sh', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', choices=['npu', 'cuda', 'cpu'],
                        help='default: what tools/launch_env.sh probes (npu > cuda > cpu)')
    parser.add_argument('--iters', type=int, default=DEFAULT_ITERS,
                        help=f'training iterations per run (default {DEFAULT_ITERS})')
    parser.add_argument('--out', help='the JSON report (default work_dirs/npu_check/npu_check_<time>.json)')
    parser.add_argument('--work-dir', help="the runs' folders and logs (default work_dirs/npu_check/<time>)")
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help=f'training config (default {DEFAULT_CONFIG})')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='config overrides for every run, as tools/train.py takes them')
    parser.add_argument('--compile-backend',
                        help="torch.compile backend of the compiled run (default: the product's for the "
                             'device: torchair on npu, Inductor elsewhere; aot_eager traces without '
                             'code generation)')
    parser.add_argument('--growth-interval', type=int,
                        help="the loss scaler's growth interval in the runs (default iters // 5, at least 2)")
    parser.add_argument('--seed', type=int, default=0, help='seed of every run (default 0)')
    parser.add_argument('--step-timeout', type=float, default=DEFAULT_STEP_TIMEOUT_S,
                        help=f'seconds a run may take before it is ended (default {DEFAULT_STEP_TIMEOUT_S})')
    parser.add_argument('--facts-timeout', type=float, default=300,
                        help='seconds for the facts (default 300)')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The check (``tools/npu_check.sh``), or the first-loss child (``first-loss ...``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['first-loss']:
        return first_loss_main(argv[1:])
    args = build_parser().parse_args(argv)
    if args.iters < 1:
        raise SystemExit('--iters must be at least 1')
    return NpuCheck(args).run(argv)


if __name__ == '__main__':
    sys.exit(main())
