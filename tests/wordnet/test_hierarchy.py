"""Tests of the packaged WordNet 3.0 hierarchy of the ImageNet-1k classes (offline)."""

from __future__ import annotations

import importlib.resources
import itertools

import pytest

from synsetlab.wordnet import (
    ROOT_WNID,
    HierarchyDataError,
    Synset,
    UnknownSynsetError,
    WordNetHierarchy,
    load_hierarchy,
)

TABBY = "n02123045"
DOMESTIC_CAT = "n02121808"
FELINE = "n02120997"
CARNIVORE = "n02075296"
MAMMAL = "n01861778"
ANIMAL = "n00015388"
DOMESTIC_ANIMAL = "n01317541"
CHIHUAHUA = "n02085620"
JAPANESE_SPANIEL = "n02085782"
TOY_DOG = "n02085374"
DOG = "n02084071"
GARBAGE_TRUCK = "n03417042"
TRUCK = "n04490091"
WHOLE = "n00003553"
BLACK_GROUSE = "n01795545"
BIRD = "n01503061"


@pytest.fixture(scope="module")
def wn() -> WordNetHierarchy:
    return load_hierarchy()


def test_load_is_cached(wn: WordNetHierarchy) -> None:
    assert load_hierarchy() is wn


def test_all_1000_imagenet_classes_present(wn: WordNetHierarchy) -> None:
    assert len(wn.classes) == 1000
    assert len(set(wn.classes)) == 1000
    assert all(wn.is_known(wnid) and wn.is_class(wnid) for wnid in wn.classes)
    assert wn.classes[0] == "n01440764"  # tench, class index 0
    assert len(wn) == 1860  # the classes plus their 860 distinct ancestors


def test_classes_match_timm_order(wn: WordNetHierarchy) -> None:
    timm_data = pytest.importorskip("timm.data")
    assert list(wn.classes) == list(timm_data.ImageNetInfo().label_names())


def test_tabby_path_runs_through_the_cat_taxonomy_to_entity(wn: WordNetHierarchy) -> None:
    path = wn.ancestors(TABBY)
    assert path[0] == TABBY
    assert path[1] == DOMESTIC_CAT
    assert path[-1] == ROOT_WNID
    expected_in_order = [FELINE, CARNIVORE, MAMMAL, ANIMAL, ROOT_WNID]
    assert [wnid for wnid in path if wnid in expected_in_order] == expected_in_order
    for child, parent in itertools.pairwise(path):
        assert parent in wn.parents(child)


def test_path_takes_the_longest_chain(wn: WordNetHierarchy) -> None:
    # game_bird has two hypernyms: 'game' (-> animal directly) listed first, and
    # 'gallinaceous_bird' (-> bird -> vertebrate -> chordate -> animal). The rule picks the
    # hypernym with the longer way up, so the path of black grouse goes through 'bird'.
    assert BIRD in wn.ancestors(BLACK_GROUSE)


def test_all_ancestors_follow_every_hypernym(wn: WordNetHierarchy) -> None:
    # domestic_cat's hypernyms are cat and domestic_animal; the one path takes cat only.
    ancestors = wn.all_ancestors(TABBY)
    assert TABBY in ancestors
    assert set(wn.ancestors(TABBY)) < ancestors
    assert DOMESTIC_ANIMAL in ancestors
    assert DOMESTIC_ANIMAL not in wn.ancestors(TABBY)


def test_names_and_lemmas(wn: WordNetHierarchy) -> None:
    assert wn.name(TABBY) == "tabby"
    assert wn.lemma_names(TABBY) == ("tabby", "tabby_cat")
    assert wn.name(GARBAGE_TRUCK) == "garbage truck"
    assert wn.synset(GARBAGE_TRUCK).name == "garbage_truck"
    assert wn.name(ROOT_WNID) == "entity"
    assert wn.parents(ROOT_WNID) == ()


def test_heights_checked_by_hand(wn: WordNetHierarchy) -> None:
    assert all(wn.height(wnid) == 0 for wnid in wn.classes)
    # toy dog -> toy spaniel -> English toy spaniel -> Blenheim spaniel (a class): 3 edges;
    # its other children (Chihuahua, Japanese spaniel, ...) are classes, i.e. shorter.
    assert wn.height(TOY_DOG) == 3
    # truck -> van -> passenger van -> minivan (a class); fire engine etc. are leaves: 3.
    assert wn.height(TRUCK) == 3
    # dog -> hunting dog -> terrier -> wirehair -> Welsh terrier -> Sealyham terrier: 5,
    # one more than toy dog's 3 and working dog's 3 lead to.
    assert wn.height(DOG) == 5
    # domestic animal's children are dog (5) and domestic cat (1, over tabby etc.): 6.
    assert wn.height(DOMESTIC_ANIMAL) == 6
    assert wn.height(ROOT_WNID) == 18


def test_height_is_one_more_than_the_highest_child(wn: WordNetHierarchy) -> None:
    for wnid in wn.all_ancestors(TABBY) | wn.all_ancestors(GARBAGE_TRUCK):
        kids = wn.children(wnid)
        assert wn.height(wnid) == (1 + max(map(wn.height, kids)) if kids else 0)


def test_two_dog_breeds_meet_low_in_the_dog_subtree(wn: WordNetHierarchy) -> None:
    lca = wn.lca(CHIHUAHUA, JAPANESE_SPANIEL)
    assert lca == TOY_DOG
    assert DOG in wn.all_ancestors(lca)
    assert wn.lca_height(CHIHUAHUA, JAPANESE_SPANIEL) == 3
    assert wn.same_parent(CHIHUAHUA, JAPANESE_SPANIEL)


def test_dog_versus_truck_meets_near_the_top(wn: WordNetHierarchy) -> None:
    # The paths part below 'whole' (living thing vs artifact): whole's height is 15.
    assert wn.lca(CHIHUAHUA, GARBAGE_TRUCK) == WHOLE
    dog_cost = wn.hierarchical_cost(CHIHUAHUA, [JAPANESE_SPANIEL])
    truck_cost = wn.hierarchical_cost(CHIHUAHUA, [GARBAGE_TRUCK])
    assert (dog_cost, truck_cost) == (3, 15)
    assert not wn.same_parent(CHIHUAHUA, GARBAGE_TRUCK)


def test_lca_in_a_dag_is_the_lowest_common_ancestor(wn: WordNetHierarchy) -> None:
    # tabby and Chihuahua share carnivore (height 7) but also domestic animal (height 6).
    assert wn.lca(TABBY, CHIHUAHUA) == DOMESTIC_ANIMAL
    assert wn.same_parent(DOMESTIC_CAT, DOG)  # both are domestic animals


def test_correct_guess_costs_zero(wn: WordNetHierarchy) -> None:
    assert all(wn.hierarchical_cost(wnid, [wnid]) == 0 for wnid in wn.classes)


def test_cost_is_min_over_guesses(wn: WordNetHierarchy) -> None:
    guesses = [GARBAGE_TRUCK, TABBY, JAPANESE_SPANIEL, TRUCK, "n01440764"]
    assert wn.hierarchical_cost(CHIHUAHUA, guesses) == 3
    assert wn.hierarchical_cost(CHIHUAHUA, guesses[::-1]) == 3
    assert wn.hierarchical_cost(CHIHUAHUA, [GARBAGE_TRUCK, TABBY]) == 6
    assert wn.hierarchical_cost(CHIHUAHUA, [*guesses, CHIHUAHUA]) == 0


def test_lca_is_symmetric_and_lowest(wn: WordNetHierarchy) -> None:
    classes = wn.classes
    for a in classes[::37]:
        for b in classes[5::41]:
            lca = wn.lca(a, b)
            assert lca == wn.lca(b, a)
            common = wn.all_ancestors(a) & wn.all_ancestors(b)
            assert lca in common
            assert wn.height(lca) == min(map(wn.height, common))
    assert wn.lca(TABBY, TABBY) == TABBY


@pytest.mark.parametrize("wnid", ["n99999999", "n00000000", "dog", "02123045", ""])
def test_unknown_wnid_raises_a_clear_value_error(wn: WordNetHierarchy, wnid: str) -> None:
    assert not wn.is_known(wnid)
    with pytest.raises(UnknownSynsetError, match="expected 'n' followed by 8 digits") as info:
        wn.ancestors(wnid)
    assert isinstance(info.value, ValueError)
    assert repr(wnid) in str(info.value)
    for call in (wn.all_ancestors, wn.name, wn.height):
        with pytest.raises(UnknownSynsetError):
            call(wnid)
    for pair_call in (wn.lca, wn.lca_height, wn.same_parent):
        with pytest.raises(UnknownSynsetError):
            pair_call(TABBY, wnid)


def test_error_message_says_what_is_wrong(wn: WordNetHierarchy) -> None:
    with pytest.raises(UnknownSynsetError, match="'n99999999' is not in the ImageNet-1k"):
        wn.height("n99999999")
    with pytest.raises(UnknownSynsetError, match="'dog' is not a WordNet noun synset id"):
        wn.height("dog")


def test_bad_guesses_are_rejected(wn: WordNetHierarchy) -> None:
    with pytest.raises(UnknownSynsetError):
        wn.hierarchical_cost("n99999999", [TABBY])
    with pytest.raises(UnknownSynsetError):
        wn.hierarchical_cost(TABBY, ["n99999999"])
    with pytest.raises(ValueError, match="at least one"):
        wn.hierarchical_cost(TABBY, [])
    with pytest.raises(TypeError, match="sequence"):
        wn.hierarchical_cost(TABBY, TABBY)


def test_licence_ships_with_the_data(wn: WordNetHierarchy) -> None:
    notice = "WordNet 3.0 Copyright 2006 by Princeton University"
    assert notice in wn.license_text
    licence_file = importlib.resources.files("synsetlab.wordnet") / "LICENSE.WordNet"
    assert notice in licence_file.read_text(encoding="utf-8")


def _toy(parents: dict[str, tuple[str, ...]]) -> WordNetHierarchy:
    synsets = {wnid: Synset(wnid, wnid, (wnid,), ps) for wnid, ps in parents.items()}
    leaves = [w for w in parents if not any(w in ps for ps in parents.values())]
    return WordNetHierarchy(synsets, leaves, root="n00000001")


def test_tie_breaks_on_a_small_dag() -> None:
    # root(1) <- a(2), b(3); a <- x(4); b <- y(5); x and y <- both leaves c(6) and d(7).
    # c and d share x and y, both of height 1: the lca is the smaller wnid, x. The path of c
    # has equally long ways up through x or y: the first-listed parent, y, wins.
    wn = _toy(
        {
            "n00000001": (),
            "n00000002": ("n00000001",),
            "n00000003": ("n00000001",),
            "n00000004": ("n00000002",),
            "n00000005": ("n00000003",),
            "n00000006": ("n00000005", "n00000004"),
            "n00000007": ("n00000004", "n00000005"),
        }
    )
    assert wn.lca("n00000006", "n00000007") == "n00000004"
    assert wn.lca_height("n00000006", "n00000007") == 1
    assert wn.ancestors("n00000006") == ["n00000006", "n00000005", "n00000003", "n00000001"]


def test_inconsistent_data_is_rejected() -> None:
    with pytest.raises(HierarchyDataError, match="not in the data"):
        _toy({"n00000001": (), "n00000002": ("n00000009",)})
    with pytest.raises(HierarchyDataError, match="cycle"):
        _toy({"n00000001": (), "n00000002": ("n00000003",), "n00000003": ("n00000002",)})
    with pytest.raises(HierarchyDataError, match="document of version 1"):
        WordNetHierarchy.from_payload({"format": "something else"})


def test_every_class_path_climbs_real_parents_to_entity(wn: WordNetHierarchy) -> None:
    for wnid in wn.classes:
        path = wn.ancestors(wnid)
        assert path[0] == wnid and path[-1] == ROOT_WNID, wnid
        for child, parent in itertools.pairwise(path):
            assert parent in wn.parents(child), (wnid, child, parent)
        assert wn.height(wnid) == 0, wnid


@pytest.mark.parametrize(
    ("wnid", "through"),
    [
        # Known WordNet 3.0 lineages, one per major branch of the ImageNet classes.
        ("n03417042", ["truck", "motor vehicle", "wheeled vehicle", "vehicle", "artifact"]),
        ("n01440764", ["cyprinid", "bony fish", "fish", "vertebrate", "animal", "organism"]),
        ("n04254680", ["ball", "game equipment", "equipment", "artifact", "object"]),
        ("n07920052", ["coffee", "beverage"]),
    ],
)
def test_known_lineages(wn: WordNetHierarchy, wnid: str, through: list[str]) -> None:
    names = [wn.name(a) for a in wn.ancestors(wnid)]
    positions = [names.index(name) for name in through]
    assert positions == sorted(positions), names
