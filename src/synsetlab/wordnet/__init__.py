"""Offline WordNet 3.0 noun hierarchy of the 1000 ImageNet-1k classes.

The packaged data are read on the first :func:`load_hierarchy` call, not at import time::

    from synsetlab.wordnet import load_hierarchy

    wn = load_hierarchy()
    wn.hierarchical_cost("n02085620", ["n02085782", "n03417042"])  # -> 3

WordNet 3.0 Copyright 2006 by Princeton University; see ``LICENSE.WordNet`` in this package.
"""

from synsetlab.wordnet.hierarchy import (
    ROOT_WNID,
    HierarchyDataError,
    Synset,
    UnknownSynsetError,
    WordNetHierarchy,
    load_hierarchy,
)

__all__ = [
    "ROOT_WNID",
    "HierarchyDataError",
    "Synset",
    "UnknownSynsetError",
    "WordNetHierarchy",
    "load_hierarchy",
]
