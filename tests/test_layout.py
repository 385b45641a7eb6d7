"""The SoccerNet layout: finding game folders and the games of a split."""
from __future__ import annotations

import sys

import pytest

from soccerspot.errors import DataError
from soccerspot.data.games import find_games, split_games

ODD_GAME = "europe_uefa-champions-league/2016-2017/2016-09-13 - 21-45 Paris SG 1 - 1 Arsenal (St. Denis), U.E.'s"


def test_find_games_returns_relative_posix_paths_with_odd_names(tmp_path):
    for game in [ODD_GAME, "england_epl/2015-2016/2015-08-08 - 19-30 Chelsea 2 - 2 Swansea"]:
        (tmp_path / game).mkdir(parents=True)
        (tmp_path / game / "Labels-v2.json").write_text("{}")
    (tmp_path / "england_epl/2015-2016/no labels here").mkdir(parents=True)
    (tmp_path / "england_epl/2015-2016/no labels here/results_spotting.json").write_text("{}")
    assert find_games(tmp_path) == ["england_epl/2015-2016/2015-08-08 - 19-30 Chelsea 2 - 2 Swansea", ODD_GAME]
    assert find_games(tmp_path, "results_spotting.json") == ["england_epl/2015-2016/no labels here"]


def test_find_games_on_a_missing_folder_names_it(tmp_path):
    with pytest.raises(DataError, match="folder not found") as info:
        find_games(tmp_path / "nowhere")
    assert "nowhere" in str(info.value)


@pytest.mark.parametrize("split, count", [("train", 300), ("valid", 100), ("test", 100), ("challenge", 50)])
def test_official_splits_come_from_the_soccernet_package(split, count):
    games = split_games(split)
    assert len(games) == count == len(set(games))
    assert all(game.count("/") == 2 for game in games)
    assert "SoccerNet.DataLoader" not in sys.modules  # it needs OpenCV; only SoccerNet.utils is used


def test_official_splits_are_disjoint():
    train, valid, test = (set(split_games(s)) for s in ("train", "valid", "test"))
    assert not (train & valid or train & test or valid & test)


def test_games_file_skips_blanks_and_comments(tmp_path):
    path = tmp_path / "GAMES.txt"
    path.write_text(f"# my season\n\n{ODD_GAME}\n  england_epl/2015-2016/a b/  \n")
    assert split_games(path) == [ODD_GAME, "england_epl/2015-2016/a b"]
    assert split_games(str(path)) == [ODD_GAME, "england_epl/2015-2016/a b"]


@pytest.mark.parametrize("text, words", [
    ("/abs/game\n", "must be relative"),
    ("a/../../b\n", "must be relative"),
    ("a/b/c\na/b/c\n", "listed twice"),
    ("# nothing\n", "lists no games"),
])
def test_bad_games_files_say_what_is_wrong(tmp_path, text, words):
    path = tmp_path / "GAMES.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=words) as info:
        split_games(path)
    assert str(path) in str(info.value)


def test_unknown_split_name_lists_the_valid_ones(tmp_path):
    with pytest.raises(DataError, match="train, valid, test, challenge"):
        split_games(str(tmp_path / "tset"))


@pytest.mark.real
def test_real_labels_tree_holds_every_official_game(soccernet_data):
    found = set(find_games(soccernet_data / "labels"))
    assert len(found) == 500
    assert found == set(split_games("train")) | set(split_games("valid")) | set(split_games("test"))
