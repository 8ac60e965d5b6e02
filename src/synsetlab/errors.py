"""The errors synsetlab raises, all in one place.

Every error a user can cause derives from :class:`SynsetlabError`, so an application needs
one ``except`` clause; the command line prints the message on one line and exits with status 1.
Messages name the file or value at fault, what was expected, and what to do.

- :class:`ConfigError` -- an option or argument has a value synsetlab cannot use.
- :class:`ModelNotFoundError` -- a model name or model file is unknown.
- :class:`WeightsUnavailableError` -- the weights are neither bundled nor in the local cache.
- :class:`WeightsMismatchError` -- a weights file does not fit the architecture it is loaded into.
- :class:`DatasetError` -- a data folder or ground-truth file is not in a layout synsetlab reads.
- :class:`ImageLoadError` -- one image could not be used; batch commands record it and go on.
"""

from __future__ import annotations

from pathlib import Path


class SynsetlabError(Exception):
    """Base class of every error synsetlab raises on purpose."""


class ConfigError(SynsetlabError, ValueError):
    """An option or argument has a value synsetlab cannot use."""


class ModelNotFoundError(SynsetlabError, LookupError):
    """A model name is neither bundled, nor a timm/torchvision model, nor a model file."""


class WeightsUnavailableError(SynsetlabError):
    """The weights for a known architecture are not available offline."""


class WeightsMismatchError(SynsetlabError):
    """A weights file does not match the architecture it is loaded into."""


class DatasetError(SynsetlabError):
    """A dataset folder or ground-truth file cannot be read."""


class ImageLoadError(SynsetlabError):
    """One image file could not be turned into an RGB picture.

    ``path`` names the file and ``reason`` says why, in words meant for the user.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")
