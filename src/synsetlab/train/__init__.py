"""Transfer learning: fine-tune a pretrained classifier on a folder of labelled photos.

>>> from synsetlab.train import FinetuneConfig, finetune
>>> config = FinetuneConfig(data=Path("photos"), output=Path("m.synsetlab"))  # doctest: +SKIP
>>> finetune(config).best.val_accuracy  # doctest: +SKIP

See :mod:`synsetlab.train.finetune` for the steps of a run; the other modules hold one
concern each: settings (policies, defaults), data (layouts and splits), augment, freeze,
features (the frozen-feature cache), loop (the training loop policy), lrfind, checkpoint,
curves, distributed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synsetlab._lazy import lazy_getattr
from synsetlab.train.settings import DEFAULT_POLICY, FinetuneConfig, FreezePolicy

if TYPE_CHECKING:
    from synsetlab.train.finetune import Callbacks, FinetuneResult, finetune
    from synsetlab.train.loop import EpochRecord

# The training machinery imports torch: load it on first use only (PEP 562).
_HOMES = {
    "Callbacks": "synsetlab.train.finetune",
    "FinetuneResult": "synsetlab.train.finetune",
    "finetune": "synsetlab.train.finetune",
    "EpochRecord": "synsetlab.train.loop",
}


__getattr__ = lazy_getattr(__name__, _HOMES)


__all__ = [
    "DEFAULT_POLICY",
    "Callbacks",
    "EpochRecord",
    "FinetuneConfig",
    "FinetuneResult",
    "FreezePolicy",
    "finetune",
]
