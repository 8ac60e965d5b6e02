"""The Typer application, the options several commands share, and output helpers.

Exit status of every command: 0 when every input was used; 1 on an error that stopped the
command (printed on one line); 2 on a usage error; 3 when the command finished but some
inputs could not be used (each is named in the output and in the log).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from synsetlab.cli import logs
from synsetlab.errors import ConfigError
from synsetlab.fileio import atomic_write_text
from synsetlab.models import DEFAULT_MODEL

logger = logging.getLogger(__name__)

EXIT_ERROR = 1
EXIT_SOME_INPUTS_FAILED = 3

app = typer.Typer(
    help="The ImageNet workflow on an ordinary CPU: classify, adapt, measure.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="Bundled, torchvision or timm model name.")
]
DownloadOpt = Annotated[
    bool, typer.Option("--allow-download", help="Let torchvision/timm fetch missing weights.")
]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Images per forward pass.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")]


class Engine(str, Enum):
    """What runs the model; ``auto`` is explained in :mod:`synsetlab.engine.selection`."""

    auto = "auto"
    onnxruntime = "onnxruntime"
    torch = "torch"


EngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine", help="auto (onnxruntime on the CPU, PyTorch on a GPU), onnxruntime or torch."
    ),
]
PixelsOpt = Annotated[
    int | None, typer.Option("--max-pixels", min=1, help="Refuse larger images (bomb guard).")
]
OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write results here.")]

__all__ = ["DEFAULT_MODEL", "app"]


@app.callback()
def _root(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log detail.")
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Log warnings and errors only.")
    ] = False,
) -> None:
    logs.configure(-1 if quiet else verbose)


def emit(text: str, output: Path | None) -> None:
    """Results go to stdout, or atomically to ``output``."""
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            atomic_write_text(output, text)
        except OSError as exc:
            raise ConfigError(
                f"--output {output}: cannot write the results there ({exc.strerror or exc}); "
                "choose a writable path"
            ) from exc
        logger.info("results written to %s", output)


def finish(failed: int, total: int) -> None:
    """Exit with status 3 if some inputs could not be used."""
    if failed:
        logger.warning("%d of %d inputs could not be used (see the errors above)", failed, total)
        raise typer.Exit(EXIT_SOME_INPUTS_FAILED)


@contextmanager
def progress(total: int | None, show: bool = True) -> Iterator[Callable[[], None]]:
    """An ``advance()`` callback driving a progress bar on stderr when it is a terminal."""
    if not (show and logs.stderr.is_terminal):
        yield lambda: None
        return
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    bar = Progress(*columns, TimeRemainingColumn(), console=logs.stderr, transient=True)
    with bar:
        task = bar.add_task("images", total=total)
        yield lambda: bar.advance(task)
