"""``ssd_npu COMMAND [flags]``: the tool scripts as one installed command.

Each command takes exactly the flags of its tool script (``ssd_npu train -h``), and the scripts
under ``tools/`` run the same code (:mod:`ssd_npu.cli.commands`). A CONFIG that names no file but
one of the configs shipped in the package (``synthetic_demo``, ``ssd300_coco.py``) is that config.

    ssd_npu demo [--work-dir DIR] [--device DEV] [--cfg-options K=V ...]
    ssd_npu train CONFIG [--work-dir DIR] [--amp] [--resume [CKPT]] ...
    ssd_npu test CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl] ...
    ssd_npu infer IMAGE CONFIG CHECKPOINT [--out-file FILE] [--score-thr T]
    ssd_npu export CONFIG CHECKPOINT --out MODEL.onnx [--dynamic-batch] ...
    ssd_npu print-config CONFIG [--cfg-options K=V ...] [--save-path FILE]
"""
import argparse
import importlib
from typing import Callable, List, NamedTuple, Optional, Tuple

from ssd_npu import __version__


class Command(NamedTuple):
    module: str  # under ssd_npu.cli.commands; its main(argv, prog) runs the command
    script: str  # the tool script with the same flags
    summary: str


COMMANDS = {
    'train': Command('train', 'tools/train.py', 'train a detector'),
    'test': Command('test', 'tools/test.py', 'evaluate a checkpoint or an exported .onnx file'),
    'demo': Command('demo', 'tools/demo_synthetic.py',
                    'train and evaluate synthetic_demo.py on generated data'),
    'infer': Command('infer', 'tools/demo.py', 'detect objects in one image and draw them'),
    'export': Command('export', 'tools/deployment/export_onnx.py',
                      'export a trained SSD to one ONNX file with its post-processing'),
    'print-config': Command('print_config', 'tools/misc/print_config.py',
                            'print a config with its bases merged and --cfg-options applied'),
}


def build_parser() -> argparse.ArgumentParser:
    commands = '\n'.join(f'  {name:<13} {command.summary}\n  {"":<13} (the flags of {command.script})'
                         for name, command in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog='ssd_npu', formatter_class=argparse.RawDescriptionHelpFormatter,
        description='SSD detectors trained the mmdetection way on Ascend NPU, NVIDIA GPU and CPU.',
        epilog=f'commands:\n{commands}\n\n"ssd_npu COMMAND -h" lists the flags of one.')
    parser.add_argument('--version', action='version', version=f'ssd_npu {__version__}')
    parser.add_argument('command', choices=list(COMMANDS), metavar='COMMAND',
                        help=f'one of: {", ".join(COMMANDS)}')
    return parser


def load_command(argv: List[str]) -> Tuple[Callable[[List[str]], None], List[str]]:
    """The command ``argv`` names (its module imported) as ``run(argv)``, and the arguments it takes.

    ``-h``, ``--version``, no command or an unknown one: argparse's answer (SystemExit).
    """
    parser = build_parser()
    if not argv or argv[0].startswith('-'):
        parser.parse_args(argv[:1])  # --help / --version exit here; anything else is an error
        parser.error('the first argument is the COMMAND')
    name = parser.parse_args(argv[:1]).command
    module = importlib.import_module(f'ssd_npu.cli.commands.{COMMANDS[name].module}')
    prog = f'ssd_npu {name}'
    return (lambda command_argv: module.main(command_argv, prog=prog)), argv[1:]


def main(argv: Optional[List[str]] = None) -> None:
    """Run ``ssd_npu COMMAND [flags]`` (the console script enters at :mod:`ssd_npu.cli.console`, which
    also explains a torch that cannot be imported)."""
    import sys

    command, command_argv = load_command(sys.argv[1:] if argv is None else list(argv))
    command(command_argv)


if __name__ == '__main__':
    main()
