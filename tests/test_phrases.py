"""Tests of course_utils.course.phrases: every phrase flips when its numbers do."""

from __future__ import annotations

import math

import numpy as np
import pytest

from course_utils.learning.diagnosis import binomial_se
from course_utils.sound import spectrum
from course_utils.course import phrases


def test_pct():
    assert phrases.pct(0.4259) == "42.6 %"
    assert phrases.pct(0.4259, digits=2) == "42.59 %"
    assert phrases.pct(1.0, digits=0) == "100 %"
    assert phrases.pct(-0.0001) == "0.0 %"
    with pytest.raises(ValueError):
        phrases.pct(float("inf"))


def test_points_keeps_the_sign_and_never_says_percent():
    assert phrases.points(0.032) == "3.2 percentage points"
    assert phrases.points(-0.01) == "-1.0 percentage points"
    assert phrases.points(0.01) == "1.0 percentage points"
    assert phrases.points(-0.0001) == "0.0 percentage points"
    assert phrases.points(0.4350) == "43.5 percentage points"
    assert "%" not in phrases.points(0.5)


def test_compare_flips_with_the_numbers():
    ahead = phrases.compare(0.426, 0.40, a_name="the CNN", b_name="the SVM")
    assert ahead == "the CNN (42.6 %) is ahead of the SVM (40.0 %) by 2.6 percentage points"
    behind = phrases.compare(0.40, 0.426, a_name="the CNN", b_name="the SVM")
    assert behind == "the CNN (40.0 %) is behind the SVM (42.6 %) by 2.6 percentage points"


def test_compare_level_within_one_se_and_not_beyond():
    level = phrases.compare(0.43, 0.40, a_name="A", b_name="B", se=0.034)
    assert level == ("A (43.0 %) and B (40.0 %) are level: the difference of 3.0 percentage points "
                     "is within one standard error (3.4 percentage points)")
    assert "level" in phrases.compare(0.40, 0.43, a_name="A", b_name="B", se=0.034)
    assert "is ahead of" in phrases.compare(0.45, 0.40, a_name="A", b_name="B", se=0.034)
    assert "is behind" in phrases.compare(0.40, 0.45, a_name="A", b_name="B", se=0.034)
    assert phrases.compare(0.5, 0.5, a_name="A", b_name="B") == "A (50.0 %) and B (50.0 %) are level"
    with pytest.raises(ValueError):
        phrases.compare(0.5, 0.4, a_name="A", b_name="B", se=-0.1)


@pytest.mark.parametrize(
    "acc, expected",
    [
        (0.125 + 6 * 0.0225, "far above chance (12.5 %)"),
        (0.125 + 3 * 0.0225, "above chance (12.5 %)"),
        (0.125 + 1 * 0.0225, "not distinguishable from chance (12.5 %)"),
        (0.125, "not distinguishable from chance (12.5 %)"),
        (0.125 - 1 * 0.0225, "not distinguishable from chance (12.5 %)"),
        (0.125 - 3 * 0.0225, "below chance (12.5 %)"),
    ],
)
def test_versus_chance_all_four_verdicts(acc, expected):
    n = 216  # se of chance = sqrt(0.125 * 0.875 / 216) = 0.0225
    assert binomial_se(0.125, n) == pytest.approx(0.0225, abs=1e-4)
    assert phrases.versus_chance(acc, 0.125, n) == expected


def test_versus_chance_depends_on_the_number_of_clips():
    # the same 20 % is indistinguishable from 12.5 % on 20 clips, far above on 2000
    assert phrases.versus_chance(0.20, 0.125, 20).startswith("not distinguishable")
    assert phrases.versus_chance(0.20, 0.125, 2000).startswith("far above")
    assert phrases.versus_chance(0.55, 0.5, 216).startswith("not distinguishable")


def test_semitones_reuses_the_course_function():
    assert phrases.semitones(220.0, 110.0) == pytest.approx(12.0)
    assert phrases.semitones(110.0, 220.0) == pytest.approx(-12.0)
    assert phrases.semitones(200.0, 120.0) == pytest.approx(float(spectrum.semitones(120.0, 200.0)))
    with pytest.raises(ValueError):
        phrases.semitones(0.0, 100.0)


def test_pitch_gap_octave_only_near_twelve_semitones():
    assert phrases.pitch_gap(110.0, 220.0) == "12.0 semitones apart (about an octave)"
    assert phrases.pitch_gap(220.0, 110.0) == "12.0 semitones apart (about an octave)"  # order free
    near = 110.0 * 2 ** (10.6 / 12)
    assert phrases.pitch_gap(110.0, near).endswith("(about an octave)")
    assert phrases.pitch_gap(110.0, 110.0 * 2 ** (9 / 12)) == "9.0 semitones apart (less than an octave)"
    assert phrases.pitch_gap(110.0, 110.0 * 2 ** (14 / 12)) == "14.0 semitones apart (more than an octave)"
    assert phrases.pitch_gap(100.0, 100.0 * 2 ** (1 / 12)) == "1.0 semitone apart (less than an octave)"


def test_spread_vs_binomial_flips_with_the_spread():
    n = 240  # se at 0.5 = 0.0323
    mean = 0.5
    se = binomial_se(mean, n)

    def folds(s):  # two folds with standard deviation s (ddof=1) around the mean
        half = s / math.sqrt(2)
        return [mean - half, mean + half]

    assert np.std(folds(0.05), ddof=1) == pytest.approx(0.05)
    about = phrases.spread_vs_binomial(folds(se), n)
    assert about == (f"the folds vary about as much as the binomial standard error of one fold "
                     f"({phrases.points(se)} vs {phrases.points(se)}) predicts")
    assert phrases.spread_vs_binomial(folds(2 * se), n).startswith("the folds vary more than")
    assert phrases.spread_vs_binomial(folds(se / 2), n).startswith("the folds vary less than")
    assert phrases.spread_vs_binomial([0.5, 0.5, 0.5], n).startswith("the folds vary less than")
    with pytest.raises(ValueError):
        phrases.spread_vs_binomial([0.5], n)
    with pytest.raises(ValueError):
        phrases.spread_vs_binomial([0.5, 1.2], n)


def test_phrases_registry_holds_the_sentence_makers():
    assert set(phrases.PHRASES) == {"compare", "versus_chance", "pitch_gap", "spread_vs_binomial", "calibration",
                                    "averaging_confidence", "uncertainty_shift"}
    for name, fn in phrases.PHRASES.items():
        assert fn is getattr(phrases, name)
    samples = {
        "compare": phrases.compare(0.5, 0.4, a_name="A", b_name="B"),
        "versus_chance": phrases.versus_chance(0.5, 0.125, 216),
        "pitch_gap": phrases.pitch_gap(120.0, 210.0),
        "spread_vs_binomial": phrases.spread_vs_binomial([0.4, 0.5], 216),
        "calibration": phrases.calibration([0.1], [0.5], [0.5], names=["A"], chance=0.125, n=216),
        "averaging_confidence": phrases.averaging_confidence([0.5], [0.4], names=["random"]),
        "uncertainty_shift": phrases.uncertainty_shift(0.5, 0.3, 0.5, 0.4, 1.5, 1.7, n_known=216, n_new=240, name="A"),
    }
    assert all(isinstance(text, str) and text for text in samples.values())


def test_every_function_names_its_chapters():
    for name in ["weigh", "pct", "points", "compare", "versus_chance", "semitones", "pitch_gap", "spread_vs_binomial",
                 "calibration", "averaging_confidence", "uncertainty_shift"]:
        doc = getattr(phrases, name).__doc__
        assert doc and any(f"{c:02d}" in doc for c in range(0, 100)), name


def test_weigh_flips_with_the_numbers():
    assert phrases.weigh(0.6, 0.2) == "more than"
    assert phrases.weigh(0.2, 0.6) == "less than"
    assert phrases.weigh(0.5, 0.45) == "about as much as"
    assert phrases.weigh(0.45, 0.5) == "about as much as"
    assert phrases.weigh(0.0, 0.0) == "about as much as"
    assert phrases.weigh(0.3, 0.2, factor=1.2) == "more than"
    with pytest.raises(ValueError):
        phrases.weigh(-0.1, 0.2)


def test_difference_se_adds_the_variances_of_two_independent_accuracies():
    assert phrases.difference_se(0.5, 100, 0.5, 100) == pytest.approx(math.sqrt(2) * 0.05)
    assert phrases.difference_se(0.8, 216, 0.4259, 216) == pytest.approx(
        math.hypot(binomial_se(0.8, 216), binomial_se(0.4259, 216)))
    assert phrases.difference_se(1.0, 50, 0.0, 50) == 0.0  # no sampling noise at 0 or 100 %
    assert phrases.difference_se(0.5, 400, 0.5, 100) < phrases.difference_se(0.5, 100, 0.5, 100)


NAMES = ["softmax reference", "MC dropout", "Bayesian CNN"]


def test_calibration_names_the_lowest_ece_and_flips_with_it():
    text = phrases.calibration([0.17, 0.19, 0.05], [0.40, 0.36, 0.60], [0.51, 0.50, 0.45], names=NAMES, chance=0.125, n=72)
    assert "best calibrated (lowest ECE, 0.050) is **Bayesian CNN**." in text
    assert "Softmax reference is underconfident (mean confidence 40 % against 51 % correct)." in text
    assert "Bayesian CNN is overconfident (mean confidence 60 % against 45 % correct)." in text
    assert "close to uniform" not in text
    flipped = phrases.calibration([0.05, 0.19, 0.17], [0.60, 0.36, 0.40], [0.51, 0.50, 0.45], names=NAMES, chance=0.125, n=72)
    assert "is **softmax reference**." in flipped and "Softmax reference is overconfident" in flipped
    level = phrases.calibration([0.1], [0.505], [0.50], names=["A"], chance=0.125, n=72)
    assert "A is calibrated on average" in level
    with pytest.raises(ValueError):
        phrases.calibration([0.1, 0.2], [0.5], [0.5], names=["A", "B"], chance=0.125, n=72)


def test_calibration_warns_when_the_best_calibrated_model_is_at_chance():
    # a network that gives every clip nearly uniform probabilities: tiny ECE, chance accuracy
    text = phrases.calibration([0.17, 0.19, 0.015], [0.40, 0.36, 0.14], [0.51, 0.50, 0.125], names=NAMES, chance=0.125, n=72)
    assert "is **Bayesian CNN**" in text
    assert "But its accuracy (12 %) is not distinguishable from chance (12.5 %)" in text
    assert "close to uniform" in text
    better = phrases.calibration([0.17, 0.19, 0.015], [0.40, 0.36, 0.30], [0.51, 0.50, 0.30], names=NAMES, chance=0.125, n=72)
    assert "close to uniform" not in better


def test_averaging_confidence_in_every_direction():
    assert "lower than the single network's on every test set" in phrases.averaging_confidence([0.4, 0.36], [0.36, 0.35], names=["random", "actors"])
    assert "did not lower the mean confidence on any" in phrases.averaging_confidence([0.3, 0.3], [0.36, 0.35], names=["random", "actors"])
    assert phrases.averaging_confidence([0.4, 0.3], [0.36, 0.35], names=["random", "actors"]).endswith("on random but not on actors.")


def test_uncertainty_shift_follows_the_accuracy():
    kw = dict(entropy_known=1.6, entropy_new=1.7, n_known=72, n_new=120)
    notices = phrases.uncertainty_shift(0.51, 0.34, 0.50, 0.35, name="softmax reference", **kw)
    assert notices.startswith("**softmax reference**: accuracy 51.0 % -> 34.0 %, mean confidence 50.0 % -> 35.0 %, "
                              "mean entropy 1.60 -> 1.70 nats: ")
    assert notices.endswith("the confidence falls by 15.0 percentage points, about as much as the accuracy "
                            "(17.0 percentage points): it notices that it knows less.")
    part = phrases.uncertainty_shift(0.51, 0.34, 0.40, 0.36, name="A", **kw)
    assert part.endswith("less than the accuracy (17.0 percentage points): it notices only part of the loss.")
    blind = phrases.uncertainty_shift(0.50, 0.33, 0.36, 0.36, name="A", **kw)
    assert blind.endswith("the accuracy falls by 17.0 percentage points but the confidence does not: it does not notice that it knows less.")
    # a collapsed model whose accuracy rises on unseen voices: nothing to notice
    rises = phrases.uncertainty_shift(0.125, 0.30, 0.14, 0.17, name="A", **kw)
    assert "the accuracy rises beyond one standard error" in rises and "notice" not in rises
    same = phrases.uncertainty_shift(0.50, 0.48, 0.5, 0.4, name="A", **kw)
    assert "the accuracy does not fall beyond one standard error" in same
