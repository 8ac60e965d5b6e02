"""find_images: files, folders and globs, as a user types them."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from synsetlab.data.discovery import find_images, is_hidden, walk_folder
from synsetlab.errors import DatasetError


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")  # content is irrelevant: discovery never opens files


def names(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_extensions_are_matched_case_insensitively(tmp_path: Path) -> None:
    touch(tmp_path, "a.JPEG", "b.Jpg", "c.PNG", "d.jpeg", "e.webp", "notes.txt", "data.csv")
    assert names(find_images([tmp_path]), tmp_path) == [
        "a.JPEG",
        "b.Jpg",
        "c.PNG",
        "d.jpeg",
        "e.webp",
    ]


def test_folders_are_searched_recursively_in_sorted_order(tmp_path: Path) -> None:
    touch(tmp_path, "z.jpg", "b/2.jpg", "b/1.jpg", "a/deep/er/x.png")
    assert names(find_images([tmp_path]), tmp_path) == [
        "a/deep/er/x.png",
        "b/1.jpg",
        "b/2.jpg",
        "z.jpg",
    ]


def test_hidden_files_and_folders_are_ignored_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    touch(
        tmp_path, "keep.jpg", ".DS_Store", ".hidden.jpg", ".ipynb_checkpoints/keep-checkpoint.jpg"
    )
    touch(tmp_path, "sub/.git/x.png", "sub/ok.png")
    with caplog.at_level(logging.INFO, logger="synsetlab.data.discovery"):
        found = find_images([tmp_path])
    assert names(found, tmp_path) == ["keep.jpg", "sub/ok.png"]
    logged = caplog.text
    for hidden in (".DS_Store", ".hidden.jpg", ".ipynb_checkpoints", ".git"):
        assert hidden in logged


def test_is_hidden() -> None:
    assert is_hidden(Path("a/.DS_Store"))
    assert is_hidden(Path(".ipynb_checkpoints"))
    assert not is_hidden(Path(".hidden_parent/visible.jpg"))
    assert not is_hidden(Path(".."))


def test_symlinked_folders_are_followed(tmp_path: Path) -> None:
    touch(tmp_path, "elsewhere/far.jpg", "data/near.jpg")
    os.symlink(tmp_path / "elsewhere", tmp_path / "data" / "linked")
    assert names(find_images([tmp_path / "data"]), tmp_path / "data") == [
        "linked/far.jpg",
        "near.jpg",
    ]


def test_a_link_to_a_parent_folder_does_not_loop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    touch(tmp_path, "root/a.jpg", "root/sub/b.jpg")
    os.symlink("..", tmp_path / "root" / "sub" / "up")  # root/sub/up -> root
    os.symlink("../..", tmp_path / "root" / "sub" / "upup")  # two loops: exponential in glob
    with caplog.at_level(logging.INFO, logger="synsetlab.data.discovery"):
        found = walk_folder(tmp_path / "root")
    assert names(found, tmp_path / "root") == ["a.jpg", "sub/b.jpg"]
    assert "already visited" in caplog.text


def test_recursive_glob_does_not_loop_through_links(tmp_path: Path) -> None:
    touch(tmp_path, "root/a.jpg", "root/sub/b.jpg", "root/sub/c.png")
    os.symlink("..", tmp_path / "root" / "sub" / "up")
    os.symlink("..", tmp_path / "root" / "sub" / "up2")
    found = find_images([f"{tmp_path}/root/**/*.jpg"])
    assert names(found, tmp_path / "root") == ["a.jpg", "sub/b.jpg"]


def test_globs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    touch(tmp_path, "cat1.jpg", "cat2.jpg", "dog.jpg", "cats/cat3.png", "cats/.cat4.png")
    assert names(find_images([f"{tmp_path}/cat?.jpg"]), tmp_path) == ["cat1.jpg", "cat2.jpg"]
    assert names(find_images([f"{tmp_path}/**/cat*"]), tmp_path) == [
        "cat1.jpg",
        "cat2.jpg",
        "cats/cat3.png",
    ]
    assert names(find_images([f"{tmp_path}/[cd]*.jpg"]), tmp_path) == [
        "cat1.jpg",
        "cat2.jpg",
        "dog.jpg",
    ]
    # A glob that matches a folder takes the images inside it.
    assert names(find_images([f"{tmp_path}/c*s"]), tmp_path) == ["cats/cat3.png"]
    with caplog.at_level(logging.WARNING, logger="synsetlab.data.discovery"):
        unmatched = find_images([f"{tmp_path}/*.tiff"])
    assert unmatched == [Path(f"{tmp_path}/*.tiff")]  # kept, so loading reports it
    assert "matches no file" in caplog.text


def test_relative_recursive_glob(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path, "photos/x/1.jpg", "photos/2.jpg")
    monkeypatch.chdir(tmp_path)
    assert [p.as_posix() for p in find_images(["photos/**/*.jpg"])] == [
        "photos/2.jpg",
        "photos/x/1.jpg",
    ]


def test_a_missing_path_is_kept_so_that_loading_reports_it(tmp_path: Path) -> None:
    assert find_images([tmp_path / "nope.jpg"]) == [tmp_path / "nope.jpg"]


def test_a_named_file_is_kept_whatever_its_suffix(tmp_path: Path) -> None:
    touch(tmp_path, "scan.dat")
    assert find_images([str(tmp_path / "scan.dat")]) == [tmp_path / "scan.dat"]


def test_inputs_keep_their_order_without_duplicates(tmp_path: Path) -> None:
    touch(tmp_path, "b.jpg", "dir/a.jpg")
    found = find_images([tmp_path / "b.jpg", tmp_path / "dir", tmp_path / "b.jpg", tmp_path])
    assert names(found, tmp_path) == ["b.jpg", "dir/a.jpg"]


def test_an_unreadable_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path, "ok/a.jpg", "locked/b.jpg")
    real_iterdir = Path.iterdir

    def iterdir(self: Path):  # tests run as root, which chmod cannot lock out
        if self.name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    with pytest.raises(DatasetError, match=r"locked: cannot list this folder \(Permission denied"):
        find_images([tmp_path])
