"""Train / validation / test splits.

Taught in ``06_preprocessing``.

- :func:`stratified_split`: the study's 70 / 15 / 15 split, seeded and stratified, which gives
  1008 / 216 / 216 files on the full set. (The paper prints 1008 / 432 / 432, which adds up to
  1872 > 1440: 15 % of 1440 is 216.) Every actor appears in all three parts, so a model can
  recognise the *speaker* rather than the emotion: fine for actor id, optimistic for the rest.
- :func:`actor_holdout_split`: whole actors held out (balanced by sex), the honest test of
  emotion and sex recognition on voices the model has never heard.
- :func:`field_split`: split by a metadata field, e.g. by repetition for actor id, so that the
  same actor is in every part but the test recordings are new takes.
- :func:`actor_folds`: K-fold cross-validation over whole actors (sex-balanced test and
  validation groups, every actor tested once): chapter 16's protocol, on which chapter 07's
  baseline runs too, so that the two are compared on the same folds.

:func:`holdout_count`, :func:`holdout_sizes` and :func:`fold_count` fit the number of held-out
actors and of folds to the actors at hand (a quick run, a partial copy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split


@dataclass(frozen=True)
class Split:
    """Row positions (into the metadata table) of the three parts of a split.

    Taught in ``06_preprocessing``; every split of ``06_preprocessing`` to ``17_new_voices`` is one."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    name: str = "split"

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def part_of(self, n: int) -> np.ndarray:
        """An array of ``n`` labels ``"train"`` / ``"val"`` / ``"test"`` (for plots and tables)."""
        labels = np.full(n, "", dtype=object)
        for part in ("train", "val", "test"):
            labels[getattr(self, part)] = part
        return labels


def short_name(split) -> str:
    """A split's name up to its details, for progress bars and labels: ``"stratified random"``,
    ``"actors held out"``, ``"by repetition"``, ``"fold 2"`` (``"split"`` for an object without
    a name). Used by the training bars of ``13_multitask``, ``16_better_emotion_model`` and
    ``17_new_voices`` (:func:`course_utils.learning.multitask.experiment`,
    :func:`course_utils.learning.emotion_net.run_experiment`)."""
    return str(getattr(split, "name", "split")).split(":")[0].split(" (")[0]


def _strata(meta: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    return meta[list(columns)].astype(str).agg("-".join, axis=1)


def _split_off(index: np.ndarray, n_out: int, meta: pd.DataFrame, stratify: list[tuple[str, ...]], seed: int):
    """Take ``n_out`` of ``index`` out, stratified by the first key that the data allow."""
    for columns in stratify:
        labels = _strata(meta.iloc[index], columns) if columns else None
        try:
            keep, out = train_test_split(index, test_size=n_out, stratify=labels, random_state=seed)
            return np.sort(keep), np.sort(out)
        except ValueError:  # a stratum too small for this split: try a coarser key
            continue
    raise AssertionError("unreachable: the last key () never fails")  # pragma: no cover


def stratified_split(
    meta: pd.DataFrame,
    fractions: tuple[float, float, float] = (0.70, 0.15, 0.15),
    *,
    stratify: tuple[str, ...] = ("actor", "emotion"),
    seed: int = 0,
) -> Split:
    """A seeded random split with the given fractions, stratified by ``stratify``.

    Validation and test each get ``round(fraction * N)`` rows, train the rest: 1008/216/216
    on the 1440 files. The held-out 30 % is stratified by actor and emotion; it is halved
    stratified by emotion and sex. Where a subset is too small for a stratum, a coarser key
    is used (down to none). Taught in ``06_preprocessing``; every chapter from
    ``06_preprocessing`` to ``17_new_voices`` uses it (the study's protocol).
    """
    if not np.isclose(sum(fractions), 1.0) or min(fractions) <= 0:
        raise ValueError(f"fractions must be three positive numbers adding up to 1, got {fractions}")
    n = len(meta)
    n_val, n_test = round(fractions[1] * n), round(fractions[2] * n)
    index = np.arange(n)
    keys = [tuple(stratify), ("emotion",), ()]
    train, held = _split_off(index, n_val + n_test, meta, keys, seed)
    val, test = _split_off(held, n_test, meta, [("emotion", "sex"), ("emotion",), ()], seed)
    return Split(train, val, test, name="stratified random")


def actor_holdout_split(meta: pd.DataFrame, n_val_actors: int = 4, n_test_actors: int = 4, *, seed: int = 0) -> Split:
    """Hold whole actors out: ``n_val_actors`` for validation, ``n_test_actors`` for test.

    Each held-out group is half male, half female (odd actor ids are male), chosen with
    ``seed``; the remaining actors train. Nobody's voice is in two parts. Taught in
    ``06_preprocessing``; used by ``07_classical_baseline`` to ``15_uncertainty`` (all but
    ``10_augmentation``).
    """
    if n_val_actors % 2 or n_test_actors % 2:
        raise ValueError("use even numbers of held-out actors, so that each group is half male, half female")
    rng = np.random.default_rng(seed)
    actors = np.array(sorted(meta["actor"].unique()))
    male, female = rng.permutation(actors[actors % 2 == 1]), rng.permutation(actors[actors % 2 == 0])
    hv, ht = n_val_actors // 2, n_test_actors // 2
    if min(len(male), len(female)) < hv + ht + 1:
        raise ValueError(
            f"{len(actors)} actors are too few to hold out {n_val_actors} + {n_test_actors} "
            "and keep both sexes in training"
        )
    val_actors = set(male[:hv]) | set(female[:hv])
    test_actors = set(male[hv : hv + ht]) | set(female[hv : hv + ht])
    a = meta["actor"].to_numpy()
    val = np.flatnonzero(np.isin(a, list(val_actors)))
    test = np.flatnonzero(np.isin(a, list(test_actors)))
    train = np.flatnonzero(~np.isin(a, list(val_actors | test_actors)))
    val_ids, test_ids = sorted(int(a) for a in val_actors), sorted(int(a) for a in test_actors)
    return Split(train, val, test, name=f"actors held out (val {val_ids}, test {test_ids})")


def field_split(meta: pd.DataFrame, field: str, test_value, *, val_fraction: float = 0.15, seed: int = 0) -> Split:
    """Test on the rows where ``meta[field] == test_value``; split the rest into train/val.

    Example: ``field_split(meta, "repetition", 2)`` trains actor id on first takes and tests on
    second takes. Validation is a stratified ``val_fraction`` of the whole table taken from
    the remaining rows. Taught in ``06_preprocessing``; used by ``07_classical_baseline`` and
    ``09_cnn_multiclass`` (actor id on unseen takes).
    """
    if field not in meta:
        raise KeyError(f"no column {field!r} in the metadata table")
    values = meta[field].to_numpy()
    if not (values == test_value).any():
        raise ValueError(f"no rows with {field} == {test_value!r}")
    test = np.flatnonzero(values == test_value)
    rest = np.flatnonzero(values != test_value)
    train, val = _split_off(rest, round(val_fraction * len(meta)), meta, [("actor", "emotion"), ("actor",), ()], seed)
    return Split(train, val, test, name=f"by {field} (test: {field} = {test_value})")


def actor_folds(meta: pd.DataFrame, n_folds: int = 6, *, seed: int = 0) -> list[Split]:
    """K-fold cross-validation over whole actors: every actor is tested exactly once.

    Male (odd ids) and female actors are shuffled separately with ``seed`` and dealt into
    ``n_folds`` groups each (``np.array_split``); test group ``k`` = male group ``k`` +
    female group ``k``, so every test group holds both sexes (24 actors, 6 folds: 2 + 2).
    Validation actors are taken from the training actors: the test group of the next fold
    (``k + 1`` modulo ``n_folds``), so validation is sex-balanced too and every actor
    validates exactly once. The rest train. Needs ``n_folds >= 3`` (test, validation and
    training groups) and at least ``n_folds`` actors of each sex.
    Taught in ``16_better_emotion_model``; ``07_classical_baseline`` runs the classical baseline
    on the same folds, and ``17_new_voices`` its models.
    """
    if n_folds < 3:
        raise ValueError(f"n_folds must be >= 3 (a test, a validation and a training group), got {n_folds}")
    actors = np.array(sorted(int(a) for a in meta["actor"].unique()))
    rng = np.random.default_rng(seed)
    male, female = rng.permutation(actors[actors % 2 == 1]), rng.permutation(actors[actors % 2 == 0])
    if min(len(male), len(female)) < n_folds:
        raise ValueError(f"{len(male)} male and {len(female)} female actors are too few for {n_folds} sex-balanced folds")
    groups = [sorted(int(a) for a in np.concatenate([m, f]))
              for m, f in zip(np.array_split(male, n_folds), np.array_split(female, n_folds))]
    a = meta["actor"].to_numpy()
    folds = []
    for k in range(n_folds):
        test_actors, val_actors = groups[k], groups[(k + 1) % n_folds]
        test = np.flatnonzero(np.isin(a, test_actors))
        val = np.flatnonzero(np.isin(a, val_actors))
        train = np.flatnonzero(~np.isin(a, test_actors + val_actors))
        folds.append(Split(train, val, test, name=f"fold {k + 1}: val {val_actors}, test {test_actors}"))
    return folds


def fold_count(meta: pd.DataFrame, requested: int | None = None, *, quick: bool = False) -> int:
    """How many actor folds (:func:`actor_folds`) a chapter runs: ``requested``, else 6 (quick
    mode 3), capped at the number of actors of the rarer sex, since every fold tests at least one
    man and one woman (the full corpus: 6 folds of 2 + 2 actors; a copy with 8 actors: 4 folds of
    1 + 1). Chapters 07, 16 and 17 all call it, so that they run the same folds on the same data.
    Taught in ``16_better_emotion_model``; used by ``07_classical_baseline`` and ``17_new_voices``.
    """
    wanted = int(requested) if requested else (3 if quick else 6)
    if wanted < 3:
        raise ValueError(f"n_folds must be >= 3 (a test, a validation and a training group), got {requested!r}")
    actors = np.array(sorted(int(a) for a in meta["actor"].unique()))
    per_sex = min(int(np.sum(actors % 2 == 1)), int(np.sum(actors % 2 == 0)))
    return max(3, min(wanted, per_sex))


def holdout_count(meta: pd.DataFrame, requested: int) -> int:
    """Actors to hold out for validation and again for test in :func:`actor_holdout_split`:
    ``requested``, but at most a quarter of the actors (rounded down to an even number, at least
    2: one of each sex), so that half the actors are left for training (8 actors: 2 + 2).
    Taught in ``06_preprocessing``; used by ``07_classical_baseline``, and through
    :func:`holdout_sizes` by ``08_cnn_binary`` to ``15_uncertainty``.
    """
    n_actors = int(meta["actor"].nunique())
    cap = max(2, (n_actors // 4) // 2 * 2)
    return int(min(int(requested), cap))


def holdout_sizes(meta: pd.DataFrame, n_val_actors: int | None, n_test_actors: int | None, *, quick: bool) -> tuple[int, int]:
    """Actors held out for validation and for test in chapters 08-15: the values given, or for
    ``None`` the course's default (4, quick mode 2) capped by :func:`holdout_count` (at most a
    quarter of the actors: 2 + 2 on a copy of eight actors). Taught in ``08_cnn_binary``; used by
    ``09_cnn_multiclass`` and ``11_transfer_vgg16`` to ``15_uncertainty``."""
    default = holdout_count(meta, 2 if quick else 4)
    return (int(n_val_actors) if n_val_actors is not None else default,
            int(n_test_actors) if n_test_actors is not None else default)
