"""The ``ssd_npu`` command's dispatch and CONFIG names, in this process (the installed wheel:
test_wheel.py)."""
import importlib.util
import os.path as osp

import pytest

from ssd_npu.cli.commands import demo, export, infer, print_config, test, train
from ssd_npu.cli.main import COMMANDS, load_command
from ssd_npu.cli.packaged_configs import packaged_configs, resolve_config
from ssd_npu.config.package_bases import CONFIGS
from ssd_npu.errors import UsageError

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_the_packaged_configs_are_the_repositorys():
    assert osp.samefile(CONFIGS, osp.join(REPO, 'configs'))
    assert 'synthetic_demo.py' in packaged_configs() and 'ssd300_coco.py' in packaged_configs()
    assert not any(name.startswith('_') for name in packaged_configs())


def test_a_config_name_is_the_packaged_config_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ('synthetic_demo', 'synthetic_demo.py', 'configs/synthetic_demo.py'):
        assert resolve_config(name) == osp.join(CONFIGS, 'synthetic_demo.py')
    assert resolve_config('_base_/default_runtime.py') == osp.join(CONFIGS, '_base_', 'default_runtime.py')
    (tmp_path / 'synthetic_demo.py').write_text('')
    assert resolve_config('synthetic_demo.py') == 'synthetic_demo.py'  # a file wins
    missing = str(tmp_path / 'nope.py')
    assert resolve_config(missing) == missing  # the loader's "Config file not found"
    assert resolve_config('elsewhere/nope.py') == 'elsewhere/nope.py'


def test_an_unknown_config_name_lists_the_packaged_ones():
    with pytest.raises(UsageError, match=r'nope\.py is neither a file nor a packaged config; ssd_npu ships: '
                                         r'.*ssd300_coco\.py.*synthetic_demo\.py'):
        resolve_config('nope.py')


def test_commands_dispatch_to_their_modules_with_the_tools_flags(capsys):
    assert set(COMMANDS) == {'train', 'test', 'demo', 'infer', 'export', 'print-config'}
    command, argv = load_command(['print-config', 'synthetic_demo', '--cfg-options',
                                  'train_cfg.max_epochs=1'])
    assert argv == ['synthetic_demo', '--cfg-options', 'train_cfg.max_epochs=1']
    command(argv)
    assert 'max_epochs=1' in capsys.readouterr().out
    for name in ('train', 'test', 'demo', 'infer', 'export'):
        command, _ = load_command([name])
        with pytest.raises(SystemExit) as exit_info:
            command(['-h'])
        assert exit_info.value.code == 0
        assert capsys.readouterr().out.startswith(f'usage: ssd_npu {name} ')
    with pytest.raises(SystemExit) as exit_info:
        load_command(['fly'])
    assert exit_info.value.code == 2 and "invalid choice: 'fly'" in capsys.readouterr().err


def _tool(relative: str):
    name = f'tool_{osp.basename(relative)[:-3]}'
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, relative))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tool_scripts_run_the_commands(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO, 'tools'))  # the scripts' own folder, for torch_import_check
    tools = {'tools/train.py': train, 'tools/test.py': test, 'tools/demo_synthetic.py': demo,
             'tools/demo.py': infer, 'tools/deployment/export_onnx.py': export,
             'tools/misc/print_config.py': print_config}
    for script, module in tools.items():
        assert _tool(script).main is module.main, script
    check = _tool('tools/torch_import_check.py')
    assert callable(check.explained_import_failures) and callable(check.probe_device)
    assert check.explain(ModuleNotFoundError("No module named 'nothing_here'", name='nothing_here')) \
        .startswith('ssd_npu is not installed')
