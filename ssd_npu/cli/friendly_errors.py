"""Short messages for start-up mistakes; full tracebacks in the log for failures after the start.

An unknown ``type`` in a config, a misspelt constructor argument, a missing dataset or config
file otherwise surface as long tracebacks from deep inside mmengine. The command-line tools
run inside :func:`friendly_errors`; ``SSD_NPU_DEBUG=1`` shows the full traceback as well.
Once the Runner's loop has started (``before_train``/``before_test``: the config, datasets,
model and checkpoint are built), an error is not a set-up mistake but evidence: it is logged
with its full traceback through the Runner's logger (console and the work dir's log file).
Either way the process exits with status 1.
"""
import contextlib
import difflib
import inspect
import os
import re
import sys
import traceback
from typing import Iterator, Optional

from mmengine.hooks import Hook
from mmengine.registry import Registry

from ssd_npu.errors import UsageError

_UNKNOWN_TYPE = re.compile(r'([\w.]+) is not in the (\w+)::(.+?) registry')
_UNEXPECTED_ARG = re.compile(r"got an unexpected keyword argument '(\w+)'")
_CLASS_CONTEXT = re.compile(r'(\w+)\.__init__\(\)')


def _all_registries() -> list:
    import ssd_npu.registry as registries

    return [value for value in vars(registries).values() if isinstance(value, Registry)]


def _names_in(registry: Registry) -> list:
    names = set()
    while registry is not None:
        names.update(registry.module_dict)
        registry = registry.parent
    return sorted(names)


def _searched_registry(scope: str, registry_name: str) -> Optional[Registry]:
    """The registry mmengine searched: ssd_npu's, mmengine's root, or another package's child of the root."""
    for registry in _all_registries():
        if registry.name != registry_name or registry.parent is None:
            continue
        root = registry.parent
        if scope == registry.scope:
            return registry
        if scope == root.scope:
            return root
        return root.children.get(scope)
    return None


def explain_unknown_type(message: str) -> Optional[str]:
    """For mmengine's "X is not in the scope::name registry": where it looked, and the closest names there."""
    match = _UNKNOWN_TYPE.search(message)
    if match is None:
        return None
    type_name, scope, registry_name = match.groups()
    registry = _searched_registry(scope, registry_name)
    candidates = [name for name in _names_in(registry) if name != type_name] if registry is not None else []
    close = difflib.get_close_matches(type_name, candidates, n=5, cutoff=0.5)
    hint = f' Did you mean: {", ".join(close)}?' if close else ''
    where = f'the "{registry_name}" registry of scope "{scope}"'
    if scope != 'ssd_npu':
        where += (" (ssd_npu's types are found under default_scope = 'ssd_npu'; a type of another package "
                  "needs its scope, e.g. type='mmengine.Visualizer')")
    return f'Unknown {registry_name} type "{type_name}" in the config: not in {where}.{hint}'


def explain_unexpected_argument(message: str) -> Optional[str]:
    """For "X() got an unexpected keyword argument 'y'", list the arguments X does take."""
    arg_match = _UNEXPECTED_ARG.search(message)
    if arg_match is None:
        return None
    argument = arg_match.group(1)
    class_match = _CLASS_CONTEXT.search(message)
    if class_match is None:
        return f'Unknown argument "{argument}" in the config.'
    class_name = class_match.group(1)
    parameters = []
    for registry in _all_registries():
        cls = registry.get(class_name)
        if cls is not None:
            signature = inspect.signature(cls)
            parameters = [name for name in signature.parameters if name not in ('args', 'kwargs')]
            break
    close = difflib.get_close_matches(argument, parameters, n=3, cutoff=0.5)
    hint = f' Did you mean: {", ".join(close)}?' if close else ''
    accepted = f' {class_name} accepts: {", ".join(parameters)}.' if parameters else ''
    return f'{class_name} has no argument "{argument}" (check the config).{hint}{accepted}'


def explain(error: BaseException) -> str:
    """A one-paragraph explanation of ``error`` for the user."""
    message = str(error)
    if isinstance(error, UsageError):
        return message
    for explainer in (explain_unknown_type, explain_unexpected_argument):
        explanation = explainer(message)
        if explanation is not None:
            return explanation
    if isinstance(error, FileNotFoundError) and re.search(r'\.json|annotations|ImageSets|data_root', message):
        return (f'{message}\nFor COCO, place the data as data/coco/annotations/instances_*2017.json, '
                'data/coco/train2017/, data/coco/val2017/ (see README), or give the folder with '
                '--data-root DIR; the synthetic demo needs no download: configs/synthetic_demo.py.')
    return f'{type(error).__name__}: {message}'


class RunWatch:
    """Tells :func:`friendly_errors` whether the watched Runner's loop has started."""

    def __init__(self) -> None:
        self.runner = None
        self.started = False

    def watch(self, runner) -> None:
        """From ``runner``'s ``before_train``/``before_test`` on, errors are logged with their traceback."""
        self.runner = runner
        runner.register_hook(_LoopStartHook(self), priority='HIGHEST')


class _LoopStartHook(Hook):
    def __init__(self, run_watch: RunWatch) -> None:
        self.run_watch = run_watch

    def before_train(self, runner) -> None:
        self.run_watch.started = True

    def before_test(self, runner) -> None:
        self.run_watch.started = True


def _log_failure(runner) -> None:
    runner.logger.error(f'Stopped by an error at epoch {runner.epoch}, iteration {runner.iter} '
                        f'(work dir {runner.work_dir}):\n{traceback.format_exc()}')


@contextlib.contextmanager
def friendly_errors() -> Iterator[RunWatch]:
    """Run the body; on an exception explain it (set-up) or log its traceback (after the start); exit 1.

    The body hands its Runner to the yielded :class:`RunWatch` (``errors.watch(runner)``).
    """
    run_watch = RunWatch()
    try:
        yield run_watch
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:  # noqa: BLE001 - the top-level handler of a command-line tool
        if run_watch.started:
            _log_failure(run_watch.runner)
            sys.exit(1)
        if os.environ.get('SSD_NPU_DEBUG'):
            traceback.print_exc()
        print(f'ERROR: {explain(error)}', file=sys.stderr)
        if not os.environ.get('SSD_NPU_DEBUG'):
            print('(set SSD_NPU_DEBUG=1 for the full traceback)', file=sys.stderr)
        sys.exit(1)
