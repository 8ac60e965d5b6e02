"""The training loop: batches, BatchNorm's one-image batches, schedule, best epoch."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from synsetlab.train.distributed import DistContext
from synsetlab.train.features import FeatureCache
from synsetlab.train.loop import (
    CachedData,
    EpochRecord,
    LoopSettings,
    cosine_schedule,
    epoch_batches,
    is_better,
    make_optimisation,
    run_epoch,
    steps_per_epoch,
)

CPU = torch.device("cpu")
ALONE = DistContext(0, 1, CPU)


def test_batches_cover_every_image_once_in_a_seeded_order() -> None:
    batches = epoch_batches(70, 32, seed=3, epoch=0, context=ALONE)
    assert [len(b) for b in batches] == [32, 32, 6]
    assert sorted(torch.cat(batches).tolist()) == list(range(70))
    same = epoch_batches(70, 32, seed=3, epoch=0, context=ALONE)
    assert all(torch.equal(a, b) for a, b in zip(batches, same, strict=True))
    assert not torch.equal(torch.cat(batches), torch.cat(epoch_batches(70, 32, 3, 1, ALONE)))


def test_a_last_batch_of_one_is_folded_into_the_previous() -> None:
    assert [len(b) for b in epoch_batches(33, 32, 0, 0, ALONE)] == [33]
    assert [len(b) for b in epoch_batches(65, 32, 0, 0, ALONE)] == [32, 33]
    assert [len(b) for b in epoch_batches(1 + 1, 32, 0, 0, ALONE)] == [2]


def test_ranks_share_each_batch_and_get_two_images_at_least() -> None:
    ranks = [epoch_batches(35, 16, 0, 0, DistContext(r, 2, CPU)) for r in (0, 1)]
    assert [len(b) for b in ranks[0]] == [8, 10] and [len(b) for b in ranks[1]] == [8, 9]
    every = torch.cat([torch.cat(r) for r in ranks]).tolist()
    assert sorted(every) == list(range(35))


@pytest.mark.parametrize("world", [1, 2, 3])
def test_steps_per_epoch_counts_the_batches(world: int) -> None:
    for num in range(2 * world, 90):
        for size in (s for s in (2, 4, 7, 32) if s >= 2 * world):
            batches = epoch_batches(num, size, 0, 0, DistContext(0, world, CPU))
            assert steps_per_epoch(num, size, world) == len(batches), (num, size)


def tiny_cache(n: int = 5, views: int = 2) -> FeatureCache:
    torch.manual_seed(0)
    labels = torch.arange(n) % 2
    # Class 1 has positive activations, class 0 negative: easy to learn.
    train = torch.randn(views, n, 4, 3, 3) + (labels.float() * 2 - 1)[None, :, None, None, None]
    return FeatureCache(train, labels, train[0][:4].clone(), labels[:4].clone())


def bn_tail() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(4, 8, 1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 2),
    )


def test_training_with_batchnorm_survives_a_last_batch_of_one() -> None:
    # 5 images in batches of 4 would leave one image alone; BatchNorm would raise.
    tail = bn_tail()
    tail.train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        tail(torch.randn(1, 4, 1, 1))
    settings = LoopSettings(lr=1e-2, batch_size=4, seed=0)
    opt = make_optimisation(tail, [{"params": list(tail.parameters())}], settings, 60, CPU)
    data = CachedData(tiny_cache(5), CPU)
    records = [run_epoch(opt, data, settings, e, "frozen", ALONE) for e in range(30)]
    assert all(math.isfinite(r.train_loss) for r in records)
    assert records[-1].val_accuracy == 1.0
    assert [r.epoch for r in records] == list(range(1, 31))


def test_epochs_cycle_through_the_cached_views() -> None:
    data = CachedData(tiny_cache(5, views=3), CPU)
    batch = torch.tensor([0, 1])
    views = [data.train_batch(e, batch)[0] for e in range(4)]
    assert torch.equal(views[0], views[3]) and not torch.equal(views[0], views[1])


def test_cosine_schedule_goes_from_lr_to_zero() -> None:
    param = nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=0.1)
    schedule = cosine_schedule(opt, 10)
    rates = []
    for _ in range(10):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    assert rates[0] == pytest.approx(0.1) and rates[5] == pytest.approx(0.05)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert rates == sorted(rates, reverse=True)


def record(acc: float, loss: float) -> EpochRecord:
    return EpochRecord(1, "frozen", 0.0, 0.0, loss, acc, 0.0, 0.0, 0.0)


def test_best_epoch_is_accuracy_then_loss() -> None:
    assert is_better(record(0.5, 1.0), None)
    assert is_better(record(0.9, 1.0), record(0.8, 0.1))
    assert not is_better(record(0.8, 1.0), record(0.9, 2.0))
    assert is_better(record(0.9, 0.2), record(0.9, 0.3))
    assert not is_better(record(0.9, 0.3), record(0.9, 0.3))
    assert not is_better(record(0.9, 0.3 - 1e-6), record(0.9, 0.3))  # noise, not progress
