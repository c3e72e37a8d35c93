"""The command lines of ``tools/train.py`` and ``tools/test.py`` (mmdetection 3.3's flags, and 2.x's)."""
import argparse

from mmengine.config import DictAction

from .legacy_flags import add_legacy_test_arguments, add_legacy_train_arguments


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every command-line tool shares: config overrides, device and launcher."""
    parser.add_argument('--device', choices=['npu', 'cuda', 'cpu'], help='default: npu > cuda > cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_dataloader.batch_size=4')
    parser.add_argument('--data-root', metavar='DIR',
                        help="the dataset folder (every dataloader's data_root and the evaluators' ann_file)")
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--compile', action='store_true',
                        help="compile the model's static graphs with torch.compile (same as compile=True)")
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)


def build_train_parser() -> argparse.ArgumentParser:
    """``tools/train.py CONFIG [options]``; parsed arguments go through ``translate_legacy_train_flags``."""
    parser = argparse.ArgumentParser(description='Train an SSD detector')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--work-dir', help='logs and checkpoints (default ./work_dirs/<config name>)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                        help='resume from CKPT, or without a path from the newest checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='mixed precision: autocast + dynamic loss scaling')
    parser.add_argument('--opt-level', choices=['O0', 'O1', 'O2'],
                        help='apex-style level of the old product: O0 = fp32, O1/O2 = --amp')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the LR to the real total batch (on by default in our configs)')
    parser.add_argument('--seed', type=int, help='random seed')
    parser.add_argument('--deterministic', action='store_true', help='deterministic algorithms')
    add_common_arguments(parser)
    add_legacy_train_arguments(parser)
    return parser


def build_test_parser() -> argparse.ArgumentParser:
    """``tools/test.py CONFIG CHECKPOINT [options]``; parsed arguments go through
    ``translate_legacy_test_flags``."""
    parser = argparse.ArgumentParser(description='Test (and evaluate) an SSD detector')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file (loaded safely: no pickled code runs), '
                        'or an .onnx file from tools/deployment/export_onnx.py (run by onnxruntime)')
    parser.add_argument('--work-dir', help='where the evaluation log goes')
    parser.add_argument('--out', help='dump the raw predictions to this .pkl file')
    parser.add_argument('--show', action='store_true', help='show the predictions in a window')
    parser.add_argument('--show-dir', help='write every test image with its predicted boxes into this folder '
                        '(a relative one under <work_dir>/<timestamp>/, as mmdetection 3.3)')
    parser.add_argument('--show-gt', action='store_true', help='also draw the ground truth')
    parser.add_argument('--wait-time', type=float, help='seconds each --show picture stays up')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation: the config's tta_model and tta_pipeline "
                             '(default: the test pipeline plus a horizontal flip, merged by NMS)')
    add_common_arguments(parser)
    add_legacy_test_arguments(parser)
    return parser
