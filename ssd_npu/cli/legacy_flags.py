"""mmdetection 2.x command-line flags: mapped onto their 3.x meaning, or a one-line replacement.

Users of the old Ascend port (mmdetection 2.25) type ``--resume-from``, ``--no-validate``,
``--eval bbox``...; argparse alone would answer "unrecognized arguments". Flags with a 3.x
meaning do what 3.x does; the others stop with :class:`UsageError` naming the replacement.

One device id (``--gpu-ids 0``, ``--gpu-id 0``: the old port's ModelZoo scripts pass it) is this
process's device, as in 2.x: a non-distributed run is placed on that device; under a launcher each
process's ``LOCAL_RANK`` picks its device and the flag is ignored with a note. Several ids (2.x's
one-process multi-device mode) and ``--gpus N`` have no 3.x meaning: 3.x starts one process per device.
"""
import argparse
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from ssd_npu.errors import UsageError
from ssd_npu.utils.device import get_device

_DEVICE_FLAG = ('{flag} was removed in mmdetection 3.x: one process drives one device. Choose devices with '
                'CUDA_VISIBLE_DEVICES / ASCEND_RT_VISIBLE_DEVICES, and start N processes with '
                '`NPROC=N bash run_8p.sh CONFIG` or `bash tools/dist_train.sh CONFIG N`.')
_DEVICE_LIST = ('{flag}: one process drives one device in mmdetection 3.x. Start one process per '
                'device with `NPROC={count} bash run_8p.sh CONFIG` or `bash tools/dist_train.sh CONFIG '
                '{count}`, and choose the devices with ASCEND_RT_VISIBLE_DEVICES={ids} (NPU) / '
                'CUDA_VISIBLE_DEVICES={ids} (GPU).')


def _add_common(group: argparse._ArgumentGroup) -> None:
    group.add_argument('--options', nargs='+', action=DictAction, help='2.x name of --cfg-options')
    group.add_argument('--gpus', type=int, help=argparse.SUPPRESS)
    group.add_argument('--gpu-id', type=int, help=argparse.SUPPRESS)
    group.add_argument('--gpu-ids', type=int, nargs='+', help=argparse.SUPPRESS)


def add_legacy_train_arguments(parser: argparse.ArgumentParser) -> None:
    """``tools/train.py``'s mmdetection 2.x flags."""
    group = parser.add_argument_group('mmdetection 2.x flags (accepted with their 3.x meaning)')
    group.add_argument('--resume-from', metavar='CKPT', help='= --resume CKPT')
    group.add_argument('--auto-resume', action='store_true', help='= --resume (the newest checkpoint)')
    group.add_argument('--no-validate', action='store_true', help='no evaluation during training')
    _add_common(group)


def add_legacy_test_arguments(parser: argparse.ArgumentParser) -> None:
    """``tools/test.py``'s mmdetection 2.x flags."""
    group = parser.add_argument_group('mmdetection 2.x flags (accepted with their 3.x meaning)')
    group.add_argument('--eval', nargs='+', metavar='METRIC',
                       help="'bbox': the config's COCO metric (the default)")
    group.add_argument('--format-only', action='store_true',
                       help='write the results json (--eval-options jsonfile_prefix=...) without evaluating')
    group.add_argument('--eval-options', nargs='+', action=DictAction,
                       help='test_evaluator arguments, e.g. classwise=True jsonfile_prefix=results')
    group.add_argument('--show-score-thr', type=float, help='score threshold of the drawn boxes')
    group.add_argument('--gpu-collect', action='store_true', help='gather the results on the device')
    group.add_argument('--tmpdir', help=argparse.SUPPRESS)
    group.add_argument('--fuse-conv-bn', action='store_true', help=argparse.SUPPRESS)
    _add_common(group)


def _translate_device_ids(args: argparse.Namespace) -> None:
    """``--gpus`` stops; one id of ``--gpu-id``/``--gpu-ids`` becomes ``args.device_index``, several stop."""
    if args.gpus is not None:
        raise UsageError(_DEVICE_FLAG.format(flag='--gpus'))
    ids, typed = [], []
    if args.gpu_ids:
        ids += args.gpu_ids
        typed.append('--gpu-ids ' + ' '.join(map(str, args.gpu_ids)))
    if args.gpu_id is not None:
        ids.append(args.gpu_id)
        typed.append(f'--gpu-id {args.gpu_id}')
    ids = list(dict.fromkeys(ids))  # the same id twice is one device
    flag = ' '.join(typed)
    if len(ids) > 1:
        raise UsageError(_DEVICE_LIST.format(flag=flag, count=len(ids), ids=','.join(map(str, ids))))
    args.device_index = ids[0] if ids else None
    args.device_flag = flag or None


def select_device_index(cfg: Config, args: argparse.Namespace, device: str) -> None:
    """Make ``args.device_index`` (from ``--gpu-ids N``) the current device of a non-distributed run.

    The Runner puts the model on the current device of its type (``'cuda'``, ``'npu'``), so setting it
    before the Runner is built places the whole run there. Nothing to select on CPU; under a launcher
    ``LOCAL_RANK`` decides. Each case is said in one log line.
    """
    index: Optional[int] = getattr(args, 'device_index', None)
    if index is None:
        return
    flag = args.device_flag
    if cfg.get('launcher', 'none') != 'none':
        print_log(f"{flag}: ignored; under the {cfg.launcher} launcher LOCAL_RANK picks each process's "
                  'device', logger='current')
        return
    if device == 'cpu':
        print_log(f'{flag}: a CPU run has no device to select; ignored', logger='current')
        return
    backend = getattr(torch, device)  # torch.cuda, or torch.npu (registered by torch_npu)
    count = backend.device_count()
    if not 0 <= index < count:
        raise UsageError(f'{flag}: this process sees {count} {device} device(s), numbered 0 to {count - 1}')
    backend.set_device(index)
    print_log(f'{flag}: this process runs on {device}:{index} (mmdetection 2.x flag; in 3.x, choose '
              'the device with ASCEND_RT_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES)', logger='current')


def _translate_common(args: argparse.Namespace) -> None:
    _translate_device_ids(args)
    if args.options:
        args.cfg_options = {**args.options, **(args.cfg_options or {})}


def translate_legacy_train_flags(args: argparse.Namespace) -> None:
    """Rewrite ``tools/train.py``'s 2.x flags into the 3.x ones, in place."""
    _translate_common(args)
    if args.resume_from is not None or args.auto_resume:
        if args.resume is not None:
            raise UsageError('--resume and --resume-from/--auto-resume ask for the same thing: '
                             'pass only --resume')
        args.resume = args.resume_from if args.resume_from is not None else 'auto'


def translate_legacy_test_flags(args: argparse.Namespace) -> None:
    """Check ``tools/test.py``'s 2.x flags; those without a 3.x meaning stop with their replacement."""
    _translate_common(args)
    if args.fuse_conv_bn:
        raise UsageError('--fuse-conv-bn is not supported (mmdetection 3.x dropped it too); test without it')
    if args.tmpdir is not None:
        raise UsageError('--tmpdir is not needed: mmengine gathers the results of all processes itself; '
                         'drop it')
    unknown = sorted(set(args.eval or ()) - {'bbox'})
    if unknown:
        raise UsageError(f'--eval {" ".join(unknown)}: SSD has box results only; --eval bbox (the default '
                         "COCO metric) is the one metric, set others in the config's test_evaluator")


def apply_legacy_train_flags(cfg: Config, args: argparse.Namespace) -> None:
    """Config changes of ``--no-validate``, and the device of ``--gpu-ids N``."""
    select_device_index(cfg, args, get_device())
    if getattr(args, 'no_validate', False):
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None


def apply_legacy_test_flags(cfg: Config, args: argparse.Namespace, device: str) -> None:
    """Config changes of ``--eval-options``, ``--format-only``, ``--show-score-thr`` and ``--gpu-collect``,
    and the device of ``--gpu-ids N``."""
    select_device_index(cfg, args, device)
    options = dict(getattr(args, 'eval_options', None) or {})
    if 'jsonfile_prefix' in options:  # 2.x's name of CocoMetric's outfile_prefix
        options['outfile_prefix'] = options.pop('jsonfile_prefix')
    if getattr(args, 'format_only', False):
        options['format_only'] = True
        options.setdefault('outfile_prefix', f'{cfg.work_dir}/results')
        print_log(f'--format-only: writing {options["outfile_prefix"]}.bbox.json, no evaluation',
                  logger='current')
    if getattr(args, 'gpu_collect', False):
        if device == 'cpu':
            print_log('--gpu-collect: a CPU run has no device to gather on; results are gathered on the CPU',
                      logger='current')
        else:
            options['collect_device'] = 'gpu'
    if options:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        evaluators[0].update(options)
    if getattr(args, 'show_score_thr', None) is not None:
        hooks = cfg.get('default_hooks') or {}
        if 'visualization' in hooks:
            hooks['visualization']['score_thr'] = args.show_score_thr
