"""Leaving a distributed run together."""
import torch.distributed as dist


def leave_process_group() -> None:
    """Wait for every rank, then destroy the default process group (nothing when not distributed).

    Without it a rank that ends first (rank 0 is still writing its best checkpoint) exits with the
    group alive, and tearing gloo down at interpreter exit can abort that process ("terminate
    called without an active exception", SIGABRT), which fails the whole job; PyTorch asks for
    ``destroy_process_group()`` before exit. Call it where every rank arrives: the end of a run, or
    a stop all ranks agreed on.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
