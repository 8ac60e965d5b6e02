"""The learning-rate finder: a short sweep of growing rates on the cached features.

The rate grows geometrically from ``start`` to ``end``, one batch each; the loss is smoothed
(exponential moving average, bias-corrected) and the sweep stops once it has blown up to
four times its best. The suggestion is the rate at the lowest smoothed loss divided by ten,
a point where the loss still falls steeply. The weights and BatchNorm statistics are put
back afterwards, so the sweep leaves no trace on the training that follows. On cached
features the whole sweep costs about as much as one epoch.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import nn
from torch.nn import functional as F

from synsetlab.train.distributed import DistContext
from synsetlab.train.loop import EpochData, epoch_batches

logger = logging.getLogger(__name__)

SMOOTHING = 0.9
BLOW_UP = 4.0


def find_lr(
    model: nn.Module,
    data: EpochData,
    batch_size: int,
    seed: int,
    device: torch.device,
    start: float = 1e-6,
    end: float = 1.0,
    steps: int = 60,
) -> float:
    """A good starting rate for Adam on ``model`` and ``data`` (see the module docstring)."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.manual_seed(seed)
    rates, losses = _sweep(model, data, batch_size, seed, device, (start, end, steps))
    model.load_state_dict(saved)
    best = min(range(len(losses)), key=losses.__getitem__)
    suggestion = rates[best] / 10.0
    logger.info(
        "lr finder: %d rates from %.1g to %.1g, lowest smoothed loss %.3f at %.2g; using %.2g",
        len(rates), rates[0], rates[-1], losses[best], rates[best], suggestion,
    )  # fmt: skip
    return suggestion


def _sweep(
    model: nn.Module,
    data: EpochData,
    batch_size: int,
    seed: int,
    device: torch.device,
    span: tuple[float, float, int],
) -> tuple[list[float], list[float]]:
    start, end, steps = span
    alone = DistContext(0, 1, device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=start)
    growth = (end / start) ** (1.0 / max(1, steps - 1))
    batches: list[torch.Tensor] = []
    rates: list[float] = []
    smoothed: list[float] = []
    average = 0.0
    model.train()
    for step in range(steps):
        if not batches:
            batches = epoch_batches(data.num_train, batch_size, seed, 10_000 + step, alone)
        inputs, labels = data.train_batch(step, batches.pop(0))
        loss = F.cross_entropy(model(inputs).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        average = SMOOTHING * average + (1 - SMOOTHING) * float(loss.detach())
        rates.append(optimizer.param_groups[0]["lr"])
        smoothed.append(average / (1 - SMOOTHING ** (step + 1)))
        if not math.isfinite(smoothed[-1]) or smoothed[-1] > BLOW_UP * min(smoothed):
            break
        for group in optimizer.param_groups:
            group["lr"] *= growth
    return rates, smoothed
