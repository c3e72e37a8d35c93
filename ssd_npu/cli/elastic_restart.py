"""Resume without a person after torchrun restarts the worker group (``--max-restarts``,
``MAX_RESTARTS`` of run_8p.sh).

torchrun starts the restarted processes with the same command line; without this they would train
from the first iteration again. ``TORCHELASTIC_RESTART_COUNT`` (set by torchrun, 0 on the first
attempt) tells a restart apart; the newest checkpoint of the work dir (``last_checkpoint``, which
is written only after a checkpoint is complete, iteration checkpoints of a preemption included) is
where it resumes.
"""
import os

from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import find_latest_checkpoint


def restart_attempt() -> int:
    """How many times torchrun has restarted this worker group (0: the first start, or no torchrun)."""
    return int(os.environ.get('TORCHELASTIC_RESTART_COUNT', '0') or 0)


def resume_after_restart(cfg: Config) -> None:
    """On a restart, make ``cfg`` resume from the newest checkpoint in ``cfg.work_dir`` (in place);
    without one yet, the run starts again as the first attempt did."""
    attempt = restart_attempt()
    if attempt == 0:
        return
    checkpoint = find_latest_checkpoint(cfg.work_dir)
    if checkpoint is None:
        print_log(f'torchrun restart {attempt}: no checkpoint in {cfg.work_dir} yet; training starts '
                  'again from the beginning', logger='current')
        return
    cfg.resume = True
    cfg.load_from = None   # mmengine then resumes from the work dir's last_checkpoint
    print_log(f'torchrun restart {attempt}: resuming from {checkpoint}, the newest checkpoint in '
              f'{cfg.work_dir}', logger='current')
