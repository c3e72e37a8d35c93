"""The command-line flags every tool shares."""
import argparse

from mmengine.config import DictAction


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
