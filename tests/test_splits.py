import numpy as np
import pandas as pd
import pytest

from course_utils.data import metadata as md
from course_utils.data import splits


@pytest.fixture(scope="module")
def meta():
    return pd.DataFrame([md.parse_filename(n).as_dict() for n in md.expected_filenames()])


def _check_partition(split, n):
    allidx = np.concatenate([split.train, split.val, split.test])
    assert len(allidx) == len(set(allidx)) == n


def test_stratified_split_gives_1008_216_216(meta):
    s = splits.stratified_split(meta, seed=0)
    assert s.sizes() == {"train": 1008, "val": 216, "test": 216}
    _check_partition(s, 1440)
    again = splits.stratified_split(meta, seed=0)
    assert all(np.array_equal(getattr(s, k), getattr(again, k)) for k in ("train", "val", "test"))
    other = splits.stratified_split(meta, seed=1)
    assert not np.array_equal(s.test, other.test)
    # stratified: each emotion has its share (12 or 13 of 216 for neutral, about 29 for the rest)
    test_counts = meta.iloc[s.test]["emotion"].value_counts()
    assert 12 <= test_counts[1] <= 13 and test_counts.drop(1).between(27, 31).all()
    assert meta.iloc[s.test]["actor"].nunique() == 24  # every speaker in test: the optimistic split
    parts = s.part_of(1440)
    assert (parts == "test").sum() == 216 and set(parts) == {"train", "val", "test"}


def test_stratified_split_falls_back_on_small_subsets(meta):
    small = meta[meta["actor"].isin([1, 2])].reset_index(drop=True)
    s = splits.stratified_split(small, seed=0)
    assert s.sizes() == {"train": 84, "val": 18, "test": 18}
    _check_partition(s, 120)
    with pytest.raises(ValueError, match="adding up to 1"):
        splits.stratified_split(meta, (0.5, 0.2, 0.2))


def test_actor_holdout_split(meta):
    s = splits.actor_holdout_split(meta, seed=0)
    _check_partition(s, 1440)
    actors = {k: set(meta.iloc[getattr(s, k)]["actor"]) for k in ("train", "val", "test")}
    assert len(actors["val"]) == len(actors["test"]) == 4 and len(actors["train"]) == 16
    assert not (actors["train"] & actors["val"]) and not (actors["train"] & actors["test"]) and not (actors["val"] & actors["test"])
    for part in ("val", "test"):
        assert sum(a % 2 for a in actors[part]) == 2  # two male, two female
    assert "held out" in s.name and "np.int64" not in s.name
    with pytest.raises(ValueError, match="even"):
        splits.actor_holdout_split(meta, 3, 4)
    with pytest.raises(ValueError, match="too few"):
        splits.actor_holdout_split(meta[meta["actor"] <= 4], 2, 2)


def test_field_split_by_repetition(meta):
    s = splits.field_split(meta, "repetition", 2)
    _check_partition(s, 1440)
    assert (meta.iloc[s.test]["repetition"] == 2).all() and len(s.test) == 720
    assert (meta.iloc[s.train]["repetition"] == 1).all() and len(s.val) == 216
    assert meta.iloc[s.train]["actor"].nunique() == 24
    with pytest.raises(KeyError):
        splits.field_split(meta, "colour", 1)
    with pytest.raises(ValueError, match="no rows"):
        splits.field_split(meta, "repetition", 3)


def test_short_name_drops_the_details(meta):
    assert splits.short_name(splits.stratified_split(meta, seed=0)) == "stratified random"
    assert splits.short_name(splits.actor_holdout_split(meta, seed=0)) == "actors held out"
    assert splits.short_name(splits.Split(np.arange(2), np.arange(1), np.arange(1), name="fold 2: val [1], test [3]")) == "fold 2"
    assert splits.short_name(object()) == "split"


def test_fold_and_holdout_counts_follow_the_actors_at_hand():
    def meta_of(n):
        return pd.DataFrame({"actor": np.repeat(np.arange(1, n + 1), 2)})

    assert splits.fold_count(meta_of(24)) == 6 and splits.fold_count(meta_of(24), quick=True) == 3
    assert splits.fold_count(meta_of(8)) == 4  # ravdess-dev: 4 folds of one man and one woman
    assert splits.fold_count(meta_of(24), 4) == 4 and splits.fold_count(meta_of(6)) == 3
    with pytest.raises(ValueError, match="n_folds"):
        splits.fold_count(meta_of(24), 2)
    assert splits.holdout_count(meta_of(24), 4) == 4 and splits.holdout_count(meta_of(8), 4) == 2
    assert splits.holdout_count(meta_of(6), 2) == 2 and splits.holdout_count(meta_of(24), 2) == 2
    for n in (8, 24):
        k = splits.holdout_count(meta_of(n), 4)
        split = splits.actor_holdout_split(meta_of(n).assign(emotion=1), k, k)  # feasible by construction
        assert len(split.train) > 0


def test_holdout_sizes_cap_the_default_but_keep_given_values():
    import pandas as pd

    eight = pd.DataFrame({"actor": list(range(1, 9)) * 2})
    full = pd.DataFrame({"actor": list(range(1, 25))})
    assert splits.holdout_sizes(eight, None, None, quick=False) == (2, 2)  # a copy of eight actors: 2 + 2, not 4 + 4
    assert splits.holdout_sizes(full, None, None, quick=False) == (4, 4)
    assert splits.holdout_sizes(full, None, None, quick=True) == (2, 2)
    assert splits.holdout_sizes(eight, 3, None, quick=False) == (3, 2)  # a value the teacher gives is kept
