#!/usr/bin/env python3
"""Build the packaged WordNet 3.0 noun hierarchy for the ImageNet-1k classes.

Development-time only: the library never runs this; it reads the file this writes.

Inputs (install with ``apt-get install -y wordnet-base``):

* ``/usr/share/wordnet/data.noun`` - the WordNet 3.0 noun data file;
* ``/usr/share/doc/wordnet-base/copyright`` - holds the WordNet 3.0 licence;
* the 1000 ImageNet-1k wnids, from ``timm.data.ImageNetInfo().label_names()``.

For every synset in the union of the (inclusive) hypernym ancestors of the 1000
classes - following ``@`` (hypernym) and ``@i`` (instance hypernym) pointers up to
``entity`` (n00001740) - it records the wnid, the first lemma, all lemmas and the parent
wnids in the order data.noun lists them. Outputs, each written atomically:

* ``src/synsetlab/wordnet/imagenet_hierarchy.json.gz`` (deterministic gzip'd JSON);
* ``src/synsetlab/wordnet/LICENSE.WordNet`` (the licence notice that must be retained).

Usage: ``.venv/bin/python scripts/build_wordnet_data.py [--data-noun PATH] ...``
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO_ROOT / "src" / "synsetlab" / "wordnet"
DEFAULT_DATA_NOUN = Path("/usr/share/wordnet/data.noun")
DEFAULT_COPYRIGHT = Path("/usr/share/doc/wordnet-base/copyright")
DEFAULT_OUTPUT = PACKAGE_DIR / "imagenet_hierarchy.json.gz"
DEFAULT_LICENSE_OUTPUT = PACKAGE_DIR / "LICENSE.WordNet"

FORMAT_NAME = "synsetlab.wordnet-imagenet-hierarchy"
FORMAT_VERSION = 1
ROOT_WNID = "n00001740"
EXPECTED_CLASSES = 1000
HYPERNYM_POINTERS = frozenset({"@", "@i"})
LICENSE_FIELD = "License: WordNet3.0"
LICENSE_HEADER = (
    "The file imagenet_hierarchy.json.gz in this directory is derived from WordNet 3.0\n"
    "(Debian package wordnet-base, file data.noun). WordNet is distributed under the\n"
    "following licence, whose notice must be retained on all copies:\n"
    "\n"
)


@dataclass(frozen=True)
class NounSynset:
    """One synset parsed from data.noun: its lemmas and its hypernym wnids, in file order."""

    wnid: str
    lemmas: tuple[str, ...]
    parents: tuple[str, ...]


def parse_data_line(line: str) -> NounSynset:
    """Parse one synset line of a WordNet ``data.noun`` file (see wndb(5WN))."""
    fields = line.split(" | ", 1)[0].split()
    offset, ss_type = fields[0], fields[2]
    if ss_type != "n":
        raise ValueError(f"synset {offset}: expected a noun synset, got type {ss_type!r}")
    word_count = int(fields[3], 16)
    lemmas = tuple(fields[4 + 2 * i] for i in range(word_count))
    pos = 4 + 2 * word_count
    pointer_count = int(fields[pos])
    parents = []
    for i in range(pointer_count):
        symbol, target, target_pos = fields[pos + 1 + 4 * i : pos + 4 + 4 * i]
        if symbol in HYPERNYM_POINTERS and target_pos == "n":
            parents.append("n" + target)
    return NounSynset(wnid="n" + offset, lemmas=lemmas, parents=tuple(parents))


def read_data_noun(path: Path) -> dict[str, NounSynset]:
    """Read every synset of ``data.noun``, keyed by wnid ('n' + 8-digit offset)."""
    synsets: dict[str, NounSynset] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith(" "):  # the licence header lines start with two spaces
                continue
            synset = parse_data_line(line)
            synsets[synset.wnid] = synset
    logger.info("read %d noun synsets from %s", len(synsets), path)
    return synsets


def imagenet_class_wnids() -> list[str]:
    """Return the 1000 ImageNet-1k wnids in timm's class-index order."""
    from timm.data import ImageNetInfo

    wnids = list(ImageNetInfo().label_names())
    if len(wnids) != EXPECTED_CLASSES or len(set(wnids)) != EXPECTED_CLASSES:
        raise ValueError(f"expected {EXPECTED_CLASSES} distinct wnids from timm")
    return wnids


def ancestor_closure(
    classes: Iterable[str], synsets: Mapping[str, NounSynset]
) -> dict[str, NounSynset]:
    """Return the classes and all their hypernym ancestors, checking each reaches the root."""
    closure: dict[str, NounSynset] = {}
    pending = list(classes)
    while pending:
        wnid = pending.pop()
        if wnid in closure:
            continue
        if wnid not in synsets:
            raise ValueError(f"{wnid} is not a synset of data.noun")
        closure[wnid] = synsets[wnid]
        pending.extend(closure[wnid].parents)
    roots = sorted(wnid for wnid, synset in closure.items() if not synset.parents)
    if roots != [ROOT_WNID]:
        raise ValueError(f"expected the single root {ROOT_WNID}, found {roots}")
    return closure


def read_license(copyright_path: Path) -> str:
    """Extract the WordNet 3.0 licence paragraph from a Debian machine-readable copyright."""
    lines = copyright_path.read_text(encoding="utf-8").splitlines()
    start = lines.index(LICENSE_FIELD) + 1
    body: list[str] = []
    for line in lines[start:]:
        if not line.startswith(" "):
            break
        body.append("" if line == " ." else line[1:])
    if not body:
        raise ValueError(f"no WordNet licence text found in {copyright_path}")
    return "\n".join(body) + "\n"


def package_version(package: str) -> str:
    """Return the installed Debian version of ``package``, or 'unknown'."""
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def build_payload(
    classes: Sequence[str], closure: Mapping[str, NounSynset], license_text: str
) -> dict[str, Any]:
    """Assemble the JSON document the library loads (format documented in hierarchy.py)."""
    import timm

    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "source": {
            "wordnet": "WordNet 3.0 data.noun",
            "debian_package": f"wordnet-base {package_version('wordnet-base')}",
            "classes": f"timm {timm.__version__} ImageNetInfo().label_names()",
        },
        "license": license_text,
        "root": ROOT_WNID,
        "classes": list(classes),
        "synsets": {
            wnid: {
                "name": closure[wnid].lemmas[0],
                "lemmas": list(closure[wnid].lemmas),
                "parents": list(closure[wnid].parents),
            }
            for wnid in sorted(closure)
        },
    }


def gzip_json(payload: Mapping[str, Any]) -> bytes:
    """Serialise compactly and gzip with a fixed header, so identical inputs give equal bytes."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":")) + "\n"
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    logger.info("wrote %s (%d bytes)", path, len(data))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-noun", type=Path, default=DEFAULT_DATA_NOUN)
    parser.add_argument("--copyright", type=Path, default=DEFAULT_COPYRIGHT)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--license-output", type=Path, default=DEFAULT_LICENSE_OUTPUT)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build and write the hierarchy data file and the licence file."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = parse_args(argv)
    classes = imagenet_class_wnids()
    closure = ancestor_closure(classes, read_data_noun(args.data_noun))
    license_text = read_license(args.copyright)
    payload = build_payload(classes, closure, license_text)
    logger.info("%d classes, %d synsets in the hierarchy", len(classes), len(closure))
    write_atomically(args.output, gzip_json(payload))
    write_atomically(args.license_output, (LICENSE_HEADER + license_text).encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
