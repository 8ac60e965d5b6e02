"""The WordNet 3.0 noun hierarchy of the 1000 ImageNet-1k classes, offline.

The data ship in ``imagenet_hierarchy.json.gz`` beside this module, built at development
time by ``scripts/build_wordnet_data.py`` from Debian's ``wordnet-base`` (WordNet 3.0, whose
licence is in ``LICENSE.WordNet``). It holds every synset that is one of the 1000 classes or a
hypernym ancestor of one (following hypernym ``@`` and instance-hypernym ``@i`` pointers up to
``entity``, n00001740): 1860 synsets. The JSON document (format version 1) is::

    {"format": "synsetlab.wordnet-imagenet-hierarchy", "format_version": 1,
     "source": {...}, "license": "<WordNet 3.0 licence>", "root": "n00001740",
     "classes": ["n01440764", ...],          # the 1000 wnids, in class-index order
     "synsets": {"n02123045": {"name": "tabby", "lemmas": ["tabby", "tabby_cat"],
                               "parents": ["n02121808"]}, ...}}

``parents`` keep the order WordNet's ``data.noun`` lists the hypernym pointers in.

The hierarchy is a directed acyclic graph (75 of its synsets have two or three hypernyms),
so the rules below are stated for a DAG. All functions are deterministic:

* **height** of a synset: the number of edges on the longest downward path from it to a leaf
  of this restricted hierarchy. Every leaf is one of the 1000 classes, so classes have height
  0. A class that were an ancestor of another class (none is, in ImageNet-1k) would simply get
  the height of its longest path down, through that other class.
* **ancestors** (one path): starting at the synset, repeatedly step to the hypernym with the
  *longest* path up to ``entity``; ties go to the hypernym WordNet lists first. The path is
  thus a longest chain (e.g. grouse -> game bird -> gallinaceous bird -> bird -> vertebrate,
  not the shortcut game bird -> game -> animal). ``ancestors`` and ``all_ancestors`` both
  include the synset itself.
* **lca**: among the common ancestors (inclusive), the one of lowest height; ties (which can
  only be between synsets neither of which is an ancestor of the other) go to the smallest
  wnid in string order.
* **hierarchical cost** (ILSVRC-2010): a guess equal to the true wnid costs 0, any other guess
  costs the height of its lca with the true wnid; an image's cost is the minimum over its
  guesses.
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from synsetlab.errors import SynsetlabError

logger = logging.getLogger(__name__)

DATA_FILE: Final = "imagenet_hierarchy.json.gz"
FORMAT_NAME: Final = "synsetlab.wordnet-imagenet-hierarchy"
FORMAT_VERSION: Final = 1
ROOT_WNID: Final = "n00001740"
_WNID_PATTERN: Final = re.compile(r"n\d{8}")


class UnknownSynsetError(SynsetlabError, ValueError):
    """A wnid is malformed or not a synset of the ImageNet-1k hierarchy."""

    def __init__(self, wnid: object) -> None:
        self.wnid = wnid
        if isinstance(wnid, str) and _WNID_PATTERN.fullmatch(wnid):
            problem = "is not in the ImageNet-1k WordNet hierarchy"
        else:
            problem = "is not a WordNet noun synset id"
        super().__init__(
            f"{wnid!r} {problem}: expected 'n' followed by 8 digits naming one of the 1000 "
            "ImageNet-1k classes or one of their WordNet hypernyms (e.g. 'n02123045', tabby cat)"
        )


class HierarchyDataError(SynsetlabError, RuntimeError):
    """The packaged hierarchy data file is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class Synset:
    """One synset: its wnid, first lemma, all lemmas and hypernym wnids, as WordNet has them.

    Lemmas keep WordNet's spelling, with underscores for spaces (``garbage_truck``).
    """

    wnid: str
    name: str
    lemmas: tuple[str, ...]
    parents: tuple[str, ...]


class WordNetHierarchy:
    """Ancestry, heights and lowest common ancestors over the ImageNet-1k WordNet hierarchy.

    Use :func:`load_hierarchy` for the packaged data; the constructor validates any mapping of
    synsets with a single root and precomputes everything, so queries are cheap. Every method
    taking a wnid raises :class:`UnknownSynsetError` for a wnid not in the hierarchy.
    """

    def __init__(
        self,
        synsets: Mapping[str, Synset],
        classes: Sequence[str],
        root: str = ROOT_WNID,
        license_text: str = "",
    ) -> None:
        self._synsets = dict(synsets)
        self._classes = tuple(classes)
        self._class_set = frozenset(self._classes)
        self.root = root
        self.license_text = license_text
        _check_graph(self._synsets, self._classes, root)
        self._children = _children_of(self._synsets)
        order = _top_down_order(self._synsets, self._children, root)
        self._depth = _max_depths(self._synsets, order)
        self._height = _heights(self._children, order)
        self._closure = _inclusive_ancestors(self._synsets, order)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> WordNetHierarchy:
        """Build a hierarchy from the decoded JSON document described in the module docstring."""
        if payload.get("format") != FORMAT_NAME or payload.get("format_version") != FORMAT_VERSION:
            raise HierarchyDataError(
                f"expected a {FORMAT_NAME!r} document of version {FORMAT_VERSION}, got "
                f"{payload.get('format')!r} version {payload.get('format_version')!r}"
            )
        try:
            synsets = {
                wnid: Synset(
                    wnid, str(entry["name"]), tuple(entry["lemmas"]), tuple(entry["parents"])
                )
                for wnid, entry in payload["synsets"].items()
            }
            return cls(synsets, payload["classes"], payload["root"], payload["license"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise HierarchyDataError(f"malformed hierarchy document: {exc!r}") from exc

    @property
    def classes(self) -> tuple[str, ...]:
        """The class wnids (for the packaged data: the 1000 ImageNet-1k ones, in index order)."""
        return self._classes

    def __len__(self) -> int:
        """Number of synsets in the hierarchy (classes and all their ancestors)."""
        return len(self._synsets)

    def __contains__(self, wnid: object) -> bool:
        """``wnid in hierarchy`` is :meth:`is_known`."""
        return isinstance(wnid, str) and wnid in self._synsets

    def is_known(self, wnid: str) -> bool:
        """True if ``wnid`` is a class or an ancestor of a class."""
        return wnid in self

    def is_class(self, wnid: str) -> bool:
        """True if ``wnid`` is one of the classes (not merely an ancestor)."""
        return wnid in self._class_set

    def synset(self, wnid: str) -> Synset:
        """The :class:`Synset` record of ``wnid``."""
        try:
            return self._synsets[wnid]
        except (KeyError, TypeError):
            raise UnknownSynsetError(wnid) from None

    def name(self, wnid: str) -> str:
        """The first lemma of ``wnid``, underscores shown as spaces (``'garbage truck'``)."""
        return self.synset(wnid).name.replace("_", " ")

    def lemma_names(self, wnid: str) -> tuple[str, ...]:
        """All lemmas of ``wnid``, as WordNet spells them (underscores for spaces)."""
        return self.synset(wnid).lemmas

    def parents(self, wnid: str) -> tuple[str, ...]:
        """The direct hypernyms of ``wnid``, in WordNet's order (empty for the root)."""
        return self.synset(wnid).parents

    def children(self, wnid: str) -> tuple[str, ...]:
        """The direct hyponyms of ``wnid`` within this hierarchy, sorted by wnid."""
        self.synset(wnid)
        return self._children[wnid]

    def ancestors(self, wnid: str) -> list[str]:
        """One hypernym path ``[wnid, parent, ..., root]``: at each step the parent with the
        longest path to the root, ties to the parent WordNet lists first."""
        path = [wnid]
        parents = self.parents(wnid)
        while parents:
            best = max(self._depth[parent] for parent in parents)
            path.append(next(parent for parent in parents if self._depth[parent] == best))
            parents = self._synsets[path[-1]].parents
        return path

    def all_ancestors(self, wnid: str) -> set[str]:
        """Every ancestor of ``wnid`` along every hypernym path, ``wnid`` itself included."""
        self.synset(wnid)
        return set(self._closure[wnid])

    def height(self, wnid: str) -> int:
        """Edges on the longest downward path from ``wnid`` to a leaf (0 for a leaf class)."""
        self.synset(wnid)
        return self._height[wnid]

    def lca(self, a: str, b: str) -> str:
        """The common ancestor of ``a`` and ``b`` (inclusive) of lowest height; ties to the
        smallest wnid. Symmetric; ``lca(a, a) == a``."""
        self.synset(a)
        self.synset(b)
        common = self._closure[a] & self._closure[b]
        return min(common, key=lambda wnid: (self._height[wnid], wnid))

    def lca_height(self, a: str, b: str) -> int:
        """The height of :meth:`lca` of ``a`` and ``b``."""
        return self._height[self.lca(a, b)]

    def hierarchical_cost(self, true_wnid: str, guesses: Sequence[str]) -> int:
        """ILSVRC-2010 hierarchical cost of one image: 0 if a guess is ``true_wnid``, else the
        lowest :meth:`lca_height` between ``true_wnid`` and any guess."""
        if isinstance(guesses, str):
            raise TypeError(f"expected a sequence of guessed wnids, got the string {guesses!r}")
        if not guesses:
            raise ValueError(f"expected at least one guessed wnid for {true_wnid!r}, got none")
        self.synset(true_wnid)
        return min(self._guess_cost(true_wnid, guess) for guess in guesses)

    def _guess_cost(self, true_wnid: str, guess: str) -> int:
        """Cost of a single guess: 0 when right, else the height of the lca."""
        return 0 if guess == true_wnid else self.lca_height(true_wnid, guess)

    def same_parent(self, a: str, b: str) -> bool:
        """True if ``a`` and ``b`` share at least one direct hypernym."""
        return not set(self.parents(a)).isdisjoint(self.parents(b))


def _check_graph(synsets: Mapping[str, Synset], classes: Iterable[str], root: str) -> None:
    """Check the root is the only parentless synset and every reference is to a synset."""
    parentless = sorted(wnid for wnid, synset in synsets.items() if not synset.parents)
    if parentless != [root]:
        raise HierarchyDataError(f"expected {root!r} as the only root, found {parentless[:5]}")
    for synset in synsets.values():
        missing = [parent for parent in synset.parents if parent not in synsets]
        if missing:
            raise HierarchyDataError(f"{synset.wnid}: parents {missing} are not in the data")
    missing_classes = [wnid for wnid in classes if wnid not in synsets]
    if missing_classes:
        raise HierarchyDataError(f"classes {missing_classes[:5]} are not in the data")


def _children_of(synsets: Mapping[str, Synset]) -> dict[str, tuple[str, ...]]:
    """Invert the parent links: each synset's direct hyponyms, sorted by wnid."""
    children: dict[str, list[str]] = {wnid: [] for wnid in synsets}
    for wnid in sorted(synsets):
        for parent in synsets[wnid].parents:
            children[parent].append(wnid)
    return {wnid: tuple(kids) for wnid, kids in children.items()}


def _top_down_order(
    synsets: Mapping[str, Synset], children: Mapping[str, tuple[str, ...]], root: str
) -> list[str]:
    """Topological order from the root down (every synset after all its parents)."""
    waiting = {wnid: len(set(synset.parents)) for wnid, synset in synsets.items()}
    order = [root]
    for wnid in order:  # the list grows while it is walked
        for child in children[wnid]:
            waiting[child] -= 1
            if waiting[child] == 0:
                order.append(child)
    if len(order) != len(synsets):
        raise HierarchyDataError("the hypernym links form a cycle")
    return order


def _max_depths(synsets: Mapping[str, Synset], order: Sequence[str]) -> dict[str, int]:
    """Edges on the longest upward path from each synset to the root."""
    depth: dict[str, int] = {}
    for wnid in order:
        parents = synsets[wnid].parents
        depth[wnid] = 1 + max(depth[parent] for parent in parents) if parents else 0
    return depth


def _heights(children: Mapping[str, tuple[str, ...]], order: Sequence[str]) -> dict[str, int]:
    """Edges on the longest downward path from each synset to a leaf."""
    height: dict[str, int] = {}
    for wnid in reversed(order):
        kids = children[wnid]
        height[wnid] = 1 + max(height[kid] for kid in kids) if kids else 0
    return height


def _inclusive_ancestors(
    synsets: Mapping[str, Synset], order: Sequence[str]
) -> dict[str, frozenset[str]]:
    """Each synset's ancestors along every path, itself included."""
    closure: dict[str, frozenset[str]] = {}
    for wnid in order:
        closure[wnid] = frozenset({wnid}).union(*(closure[p] for p in synsets[wnid].parents))
    return closure


@functools.cache
def load_hierarchy() -> WordNetHierarchy:
    """Load the packaged ImageNet-1k hierarchy, once per process (later calls reuse it)."""
    resource = importlib.resources.files(__package__ or "synsetlab.wordnet").joinpath(DATA_FILE)
    try:
        payload = json.loads(gzip.decompress(resource.read_bytes()))
    except (OSError, ValueError) as exc:
        raise HierarchyDataError(f"cannot read packaged data file {DATA_FILE}: {exc}") from exc
    hierarchy = WordNetHierarchy.from_payload(payload)
    logger.debug(
        "loaded %d synsets, %d classes from %s", len(hierarchy), len(hierarchy.classes), DATA_FILE
    )
    return hierarchy
