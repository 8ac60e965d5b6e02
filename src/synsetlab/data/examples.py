"""Real example photos that ship inside packages synsetlab depends on anyway.

They are read where the packages installed them, never copied into this project.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from synsetlab.errors import DatasetError

#: (package, path inside it) of each example photo.
EXAMPLES = (
    ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
    ("skimage", "data/chelsea.png"),
    ("skimage", "data/coffee.png"),
    ("skimage", "data/rocket.jpg"),
    ("skimage", "data/astronaut.png"),
)


def example_photos() -> list[Path]:
    """Paths of the example photos; raises :class:`DatasetError` if a package lacks one."""
    paths = []
    for package, inner in EXAMPLES:
        path = Path(str(resources.files(package).joinpath(inner)))
        if not path.is_file():
            raise DatasetError(f"example photo {inner} is missing from the {package} package")
        paths.append(path)
    return paths
