"""The wheel as a user installs it: built from this checkout, installed into a fresh virtual
environment, run from a folder outside the repository.

The environment sees the system site-packages (torch, mmengine... are not installed again), where
this checkout's editable install also lives. Its finder is appended to ``sys.meta_path``, after
the path finder, and the environment's own site-packages come first on ``sys.path``: the wheel's
``ssd_npu`` wins, as long as neither the current folder nor ``PYTHONPATH`` is the checkout. The
test checks that rather than assuming it (where every module and the configs were loaded from).

The wheel is built from a copy of the working tree's files (tracked, and new ones git does not
ignore): an in-place build would leave ``build/`` in the checkout, and setuptools copies what it
finds there into later wheels, modules since deleted included.
"""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LIMIT_S = 1800  # a hung command, far above the ~2 min the whole test takes on 2 cores

# Where the installed ssd_npu came from, as the console script's interpreter sees it.
WHERE = textwrap.dedent('''
    import json, sys
    import ssd_npu, ssd_npu_console
    from ssd_npu.cli import main
    from ssd_npu.config.package_bases import CONFIGS
    finders = [getattr(f, '__name__', type(f).__name__) for f in sys.meta_path]
    print(json.dumps(dict(ssd_npu=ssd_npu.__file__, console=ssd_npu_console.__file__, cli=main.__file__,
                          configs=CONFIGS, finders=finders)))
''')

# The demo at its smallest: 32 training and 16 validation images, one epoch (2 iterations).
GENERATOR = dict(num_train=32, num_val=16, width=160, height=160)
DEMO_OPTIONS = ['train_cfg.max_epochs=1'] + [
    f'{loader}.dataset.generator.{key}={value}'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    for key, value in GENERATOR.items()]


def _copy_working_tree(destination: Path) -> None:
    listed = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split('\0')
    for name in filter(None, listed):
        source, target = REPO / name, destination / name
        if not (source.exists() or source.is_symlink()):  # deleted in the working tree
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():  # ssd_npu/configs -> ../configs stays a link, as committed
            os.symlink(os.readlink(source), target)
        elif source.is_file():
            shutil.copy2(source, target)


def _run(args, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run([str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=LIMIT_S)
    assert result.returncode == 0, f'{args}:\n{(result.stdout + result.stderr)[-3000:]}'
    return result


def _legacy_config(folder: Path, data_root: Path) -> Path:
    """tests/test_config/legacy_ssd_config.py's mmdetection 2.25-style config (loaded by path: another
    test folder's module)."""
    spec = importlib.util.spec_from_file_location('legacy_ssd_config',
                                                  REPO / 'tests' / 'test_config' / 'legacy_ssd_config.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_legacy_config(folder, data_root)


@pytest.mark.slow
@pytest.mark.longest
def test_the_wheel_installed_in_a_fresh_environment_runs_the_demo_and_reads_packaged_configs(tmp_path):
    if shutil.which('git') is None or not (REPO / '.git').exists():
        pytest.skip('builds the wheel from a git checkout')
    started = time.monotonic()
    source, wheels, venv, outside = (tmp_path / name for name in ('source', 'wheels', 'venv', 'outside'))
    outside.mkdir()
    _copy_working_tree(source)
    env = {key: value for key, value in os.environ.items()
           if key not in ('PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'VIRTUAL_ENV')}
    env.update(OMP_NUM_THREADS='1', PIP_DISABLE_PIP_VERSION_CHECK='1', PIP_NO_INDEX='1')

    # Build and install: the wheel only, into an environment that reuses the system's torch & co.
    _run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', '.', '-w', wheels],
         source, env)
    (wheel,) = wheels.glob('ssd_npu-*.whl')
    _run([sys.executable, '-m', 'venv', '--system-site-packages', '--without-pip', venv], outside, env)
    python, command = venv / 'bin' / 'python', venv / 'bin' / 'ssd_npu'
    # The system's pip, run by the environment's interpreter, installs into the environment;
    # --ignore-installed: the editable ssd_npu of the same version is outside it, and stays.
    _run([python, '-m', 'pip', 'install', '-q', '--no-deps', '--ignore-installed', wheel], outside, env)
    assert command.is_file()
    env['PATH'] = f'{venv / "bin"}{os.pathsep}{env.get("PATH", "")}'

    # What wins: the wheel in the environment, not the checkout (whose editable finder is still there).
    where = json.loads(_run([python, '-c', WHERE], outside, env).stdout.strip().splitlines()[-1])
    site = str(venv.resolve())
    for key in ('ssd_npu', 'console', 'cli', 'configs'):
        assert str(Path(where[key]).resolve()).startswith(site), (key, where)
        assert not str(Path(where[key]).resolve()).startswith(str(REPO)), (key, where)
    assert Path(where['configs']).is_dir() and not Path(where['configs']).is_symlink()
    assert sorted(p.name for p in Path(where['configs']).glob('*.py')) == sorted(
        p.name for p in (REPO / 'configs').glob('*.py'))
    # The checkout's finder, where it is installed, answers only what the path finder does not.
    if '_EditableFinder' in where['finders']:
        assert where['finders'].index('PathFinder') < where['finders'].index('_EditableFinder'), where
    isolated = json.loads(_run([python, '-I', '-c', WHERE], outside, env).stdout.strip().splitlines()[-1])
    assert isolated['ssd_npu'] == where['ssd_npu']

    # The demo from an empty folder: the packaged synthetic_demo.py, generated data, train, evaluate.
    demo = _run([command, 'demo', '--work-dir', 'work', '--device', 'cpu', '--cfg-options', *DEMO_OPTIONS],
                outside, env)
    last = demo.stdout.strip().splitlines()[-1]
    assert re.match(r'bbox mAP on the validation split: \d\.\d{3} \(mAP@0\.5 \d\.\d{3}\)', last), last
    assert (outside / 'work' / 'epoch_1.pth').is_file()
    assert (outside / 'data' / 'synthetic' / 'annotations' / 'instances_val.json').is_file()

    # An mmdetection config's mmdet:: base, from the package's configs (mmdetection is not installed).
    assert importlib.util.find_spec('mmdet') is None, 'the test reads mmdet:: bases without mmdetection'
    (outside / 'official.py').write_text("_base_ = 'mmdet::ssd/ssd300_coco.py'\n"
                                         'train_dataloader = dict(batch_size=4)\n')
    official = _run([command, 'print-config', 'official.py'], outside, env).stdout
    assert "type='SSD'" in official and 'batch_size=4' in official and "type='SSDVGG'" in official
    assert not list(outside.glob('.official.py.*')), 'the rewritten copy is removed'

    # An mmdetection 2.25-style config, converted with the package's default runtime.
    legacy = _legacy_config(outside, outside / 'data' / 'synthetic')
    converted = _run([command, 'print-config', legacy.name], outside, env)
    assert 'is an mmdetection 2.x config; converted in memory' in converted.stdout + converted.stderr
    assert "type='PackDetInputs'" in converted.stdout and 'default_hooks = dict(' in converted.stdout
    assert "type='EpochBasedTrainLoop'" in converted.stdout

    # A packaged config by name; an unknown name lists them.
    assert 'max_epochs = 30' in _run([command, 'print-config', 'synthetic_demo'], outside, env).stdout
    unknown = subprocess.run([command, 'train', 'nope'], cwd=outside, env=env, capture_output=True, text=True,
                             timeout=LIMIT_S)
    assert unknown.returncode == 1 and 'Traceback' not in unknown.stderr
    assert 'nope is neither a file nor a packaged config' in unknown.stderr
    assert 'synthetic_demo.py' in unknown.stderr

    # A torch_npu that cannot load (its torch.backends entry point raising): one explained line.
    broken = tmp_path / 'broken_torch_npu'
    (broken / 'fake_npu-0.0.dist-info').mkdir(parents=True)
    (broken / 'fake_npu-0.0.dist-info' / 'METADATA').write_text('Metadata-Version: 2.1\nName: fake-npu\n'
                                                                'Version: 0.0\n')
    (broken / 'fake_npu-0.0.dist-info' / 'entry_points.txt').write_text(
        '[torch.backends]\ntorch_npu = fake_torch_npu:_autoload\n')
    (broken / 'fake_torch_npu.py').write_text(
        'def _autoload():\n    raise ImportError("libhccl.so: cannot open shared object file")\n')
    failed = subprocess.run([command, 'print-config', 'synthetic_demo'], cwd=outside, capture_output=True,
                            text=True, timeout=LIMIT_S, env={**env, 'PYTHONPATH': str(broken)})
    assert failed.returncode == 1 and 'Traceback' not in failed.stderr, failed.stderr[-3000:]
    first, cause = failed.stderr.strip().splitlines()
    assert first.startswith("ERROR: torch_npu cannot load (source CANN's set_env.sh first")
    assert cause.strip() == 'ImportError: libhccl.so: cannot open shared object file'
    print(f'wheel test: {time.monotonic() - started:.0f} s')
