"""Turn the tools' command-line flags into config entries, the way mmdetection's tools do."""
import argparse
import os
import os.path as osp
from typing import Callable, Optional

from mmengine.config import Config
from mmengine.runner import Runner

from ssd_npu.config import apply_test_time_aug, load_config, set_data_root
from ssd_npu.errors import UsageError
from ssd_npu.setup_env import register_all_modules
from ssd_npu.utils.device import dist_backend, get_device

from .amp_flags import amp_optim_wrapper
from .elastic_restart import resume_after_restart
from .graph_compile import compile_model, take_compile_options
from .legacy_flags import apply_legacy_test_flags, apply_legacy_train_flags
from .legacy_launch_env import map_legacy_dist_env


def _section(parent, key: str, default: Optional[dict] = None):
    """``parent[key]``, created from ``default`` (or empty) if missing.

    ``ConfigDict.setdefault`` returns the dict it was given while storing a converted copy, so
    writes into its result would be lost; this returns the stored section.
    """
    if key not in parent:
        parent[key] = dict(default or {})
    return parent[key]


def _default_work_dir(config_path: str) -> str:
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])


def apply_launch_options(cfg: Config, config_path: str, work_dir: Optional[str], launcher: str,
                         device: Optional[str]) -> None:
    """Set work dir, launcher, device and distributed backend: what every tool needs."""
    # The old product started one process per device with RANK / RANK_SIZE / NPUID set and no
    # launcher flag: read those as torchrun's variables and launch as torchrun would.
    map_legacy_dist_env()
    if launcher == 'none' and int(os.environ.get('WORLD_SIZE', '1')) > 1:
        launcher = 'pytorch'
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = _default_work_dir(config_path)
    if device is not None:
        os.environ['SSD_NPU_DEVICE'] = device
    dist_cfg = _section(_section(cfg, 'env_cfg'), 'dist_cfg')
    if dist_cfg.get('backend', 'auto') == 'auto':
        dist_cfg['backend'] = dist_backend(get_device())
    if get_device() == 'cpu':
        # Pinned memory speeds up copies to an accelerator; on a CPU run torch only warns about it.
        for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if isinstance(cfg.get(name), dict) and cfg[name].get('pin_memory'):
                cfg[name]['pin_memory'] = False


def _apply_data_root(cfg: Config, args) -> None:
    if getattr(args, 'data_root', None):
        set_data_root(cfg, args.data_root)


def setup_train_config(cfg: Config, args) -> Config:
    """Apply ``tools/train.py``'s flags to ``cfg`` (in place) and return it.

    ``args`` carries ``config, work_dir, resume, amp, opt_level, launcher, seed, deterministic,
    device, auto_scale_lr``, and optionally ``data_root`` and the 2.x ``no_validate``.
    """
    apply_launch_options(cfg, args.config, args.work_dir, args.launcher, args.device)
    _apply_data_root(cfg, args)
    apply_legacy_train_flags(cfg, args)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    resume_after_restart(cfg)
    if args.amp or args.opt_level is not None:
        cfg.optim_wrapper = amp_optim_wrapper(cfg.optim_wrapper, opt_level=args.opt_level, amp=args.amp,
                                              device=get_device())
    if args.auto_scale_lr:
        _section(cfg, 'auto_scale_lr')['enable'] = True
    if args.seed is not None or args.deterministic:
        randomness = _section(cfg, 'randomness')
        randomness['seed'] = args.seed if args.seed is not None else randomness.get('seed')
        randomness['deterministic'] = args.deterministic or randomness.get('deterministic', False)
    return cfg


def setup_test_config(cfg: Config, args) -> Config:
    """Apply ``tools/test.py``'s flags to ``cfg`` (in place) and return it.

    ``args`` carries ``config, checkpoint, work_dir, out, show, show_dir, show_gt, launcher, device``,
    and optionally ``data_root``, ``wait_time``, ``tta`` and the 2.x flags (``legacy_flags``).
    """
    apply_launch_options(cfg, args.config, args.work_dir, args.launcher, args.device)
    _apply_data_root(cfg, args)
    if getattr(args, 'tta', False):
        if getattr(args, 'compile', False) or cfg.get('compile'):
            raise UsageError('--tta runs the eager model (each view through the detector, then a merge); '
                             'test without --compile')
        apply_test_time_aug(cfg)
    cfg.load_from = args.checkpoint
    apply_legacy_test_flags(cfg, args, get_device())
    if args.show or args.show_dir:
        hook = _section(_section(cfg, 'default_hooks'), 'visualization', dict(type='DetVisualizationHook'))
        hook['draw'] = True
        hook['show'] = args.show
        hook['draw_gt'] = args.show_gt
        if getattr(args, 'wait_time', None) is not None:
            hook['wait_time'] = args.wait_time
        if args.show_dir:
            # as mmdetection 3.3: a relative folder lands in <work_dir>/<timestamp>/
            hook['test_out_dir'] = args.show_dir
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must name a .pkl or .pickle file, got {args.out}')
        dump = dict(type='DumpResults', out_file_path=args.out)
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dump]
    return cfg


def build_runner(args: argparse.Namespace, setup: Callable[[Config, argparse.Namespace], Config]) -> Runner:
    """Load ``args.config`` with ``--cfg-options``, apply the tool flags via ``setup``, build the Runner."""
    register_all_modules(init_default_scope=False)
    cfg = setup(load_config(args.config, args.cfg_options), args)
    if getattr(args, 'compile', False):
        cfg.compile = cfg.get('compile') or True
    compile_options = take_compile_options(cfg)
    runner = Runner.from_cfg(cfg)
    if compile_options is not None:
        compile_model(runner.model, compile_options)
    return runner
