"""Training on several processes: ``torchrun`` and DistributedDataParallel.

``synsetlab finetune`` launched under ``torchrun`` (which sets ``WORLD_SIZE``, ``RANK`` and
``LOCAL_RANK``) joins the process group: gloo on the CPU, nccl on CUDA. Every rank computes
the frozen features of its share of the images and receives everyone else's, so all ranks
hold the whole cache; each global batch is then split between the ranks and the gradients
averaged by DDP. Only rank 0 writes files and logs epochs. Run alone, everything here is a
no-op and no process group is created.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from synsetlab.errors import ConfigError

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job; ``world_size`` 1 when run alone."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: str) -> DistContext:
    """Join the process group when launched by torchrun; pick this rank's device."""
    wanted = _resolve(device)
    if not launched_by_torchrun():
        return DistContext(0, 1, torch.device(wanted))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if wanted == "cuda" else "gloo"
    if wanted == "cuda":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    where = torch.device(f"cuda:{local_rank}") if wanted == "cuda" else torch.device("cpu")
    context = DistContext(dist.get_rank(), dist.get_world_size(), where)
    logger.info(
        "distributed run: rank %d of %d, backend %s, device %s",
        context.rank, context.world_size, backend, where,
    )  # fmt: skip
    return context


def teardown(context: DistContext) -> None:
    if context.active and dist.is_initialized():
        dist.destroy_process_group()


def _resolve(device: str) -> str:
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda, got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but PyTorch sees no CUDA GPU")
    return device


def shard(items: list[T], context: DistContext) -> list[T]:
    """This rank's share of ``items`` (every ``world_size``-th, from ``rank``)."""
    return items[context.rank :: context.world_size]


def gather_objects(value: T, context: DistContext) -> list[T]:
    """Every rank's ``value``, in rank order (just ``[value]`` when run alone)."""
    if not context.active:
        return [value]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def all_sum(values: list[float], context: DistContext) -> list[float]:
    """Element-wise sum of ``values`` over the ranks."""
    if not context.active:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=_comm_device(context))
    dist.all_reduce(tensor)
    return [float(v) for v in tensor.cpu()]


def barrier(context: DistContext) -> None:
    if context.active:
        dist.barrier()


def wrap(module: nn.Module, context: DistContext) -> nn.Module:
    """``module`` under DDP when distributed, so that backward averages the gradients."""
    if not context.active:
        return module
    ids = [context.device.index] if context.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def _comm_device(context: DistContext) -> torch.device:
    # nccl only moves CUDA tensors; gloo is happiest with CPU ones.
    return context.device if context.device.type == "cuda" else torch.device("cpu")
