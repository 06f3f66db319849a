"""Numbers into words: the few phrases with which the course judges a measured result.

Rule of the course (issue 13, "words track numbers"): every sentence that states a measured
result must hold for the data the notebook ran on, the offline corpus or the real RAVDESS. So
no markdown cell types a measured number or a comparison; a code cell prints the sentence,
made by one of these functions from the numbers just measured. Each function is pure (numbers
in, a string or a number out) and its tests check both directions: the phrase flips when the
numbers do.

=================================  ===========================================================
function                           what it says
=================================  ===========================================================
:func:`difference_se`              the standard error of the difference of two such accuracies
:func:`pct`                        a fraction as a percentage: ``"42.6 %"``
:func:`points`                     a difference of two fractions: ``"3.2 percentage points"``
:func:`compare`                    who is ahead of whom, by how much, or "level" within one SE
:func:`versus_chance`              far above / above / not distinguishable from / below chance
:func:`semitones`                  the interval between two frequencies in semitones
:func:`pitch_gap`                  ``"9.1 semitones apart (less than an octave)"``
:func:`spread_vs_binomial`         do folds (or seeds) vary more than the binomial SE predicts?
:func:`weigh`                      "more than" / "about as much as" / "less than"
:func:`calibration`                which model is best calibrated, who is over- or underconfident
:func:`averaging_confidence`       does averaging sampled networks lower the confidence?
:func:`uncertainty_shift`          from known to unseen voices: does the confidence follow the accuracy?
=================================  ===========================================================

The standard error behind every judgement is
:func:`course_utils.learning.diagnosis.binomial_se` (an accuracy measured on ``n`` clips).

:data:`PHRASES` names the functions that produce whole sentences, for a registry of claims
(:func:`weigh` gives only a fragment and is not in it).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from course_utils.learning.diagnosis import binomial_se
from course_utils.sound import spectrum

#: How close to 12 semitones a gap must be to be called "about an octave".
OCTAVE_TOLERANCE_ST = 1.5
#: versus_chance: more than this many standard errors above chance is "far above".
FAR_ABOVE_SE = 5.0
#: versus_chance: beyond this many standard errors from chance the difference is real.
DISTINGUISHABLE_SE = 2.0
#: spread_vs_binomial: a ratio of spread to SE beyond this factor (either way) is "more" / "less".
SPREAD_FACTOR = 1.5


def _fraction(x: float, name: str) -> float:
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {x!r}")
    return x


# --------------------------------------------------------------------------------------
# Standard errors
# --------------------------------------------------------------------------------------
def difference_se(a: float, n_a: int, b: float, n_b: int) -> float:
    """The standard error of ``a - b``, two accuracies measured on independent test sets of
    ``n_a`` and ``n_b`` clips: ``sqrt(se_a^2 + se_b^2)`` with :func:`~course_utils.learning.diagnosis.binomial_se`. The ``se`` to
    give :func:`compare` when two models were tested on different clips. Used in
    ``06_preprocessing``, ``07_classical_baseline``, ``09_cnn_multiclass``, ``10_augmentation``,
    ``14_raw_waveform``, ``16_better_emotion_model`` and ``17_new_voices``, by
    :func:`uncertainty_shift` (``15_uncertainty``) and by ``99_results``
    (:func:`course_utils.course.summary.headline_comparisons`).
    """
    return float(math.hypot(binomial_se(a, n_a), binomial_se(b, n_b)))


# --------------------------------------------------------------------------------------
# Levels and differences in words
# --------------------------------------------------------------------------------------
def pct(x: float, digits: int = 1) -> str:
    """A fraction as a percentage, e.g. ``pct(0.4259) == "42.6 %"``.

    For levels (an accuracy, a share); a difference of two fractions is :func:`points`.
    Called in ``04_mel_scale`` and ``07_classical_baseline``; every sentence of :func:`compare`,
    :func:`versus_chance`, :func:`calibration` and :func:`uncertainty_shift` gives its levels with
    it (``06_preprocessing`` to ``09_cnn_multiclass``, ``14_raw_waveform`` to ``17_new_voices``,
    ``99_results``).
    """
    x = _fraction(x, "x")
    text = f"{100.0 * x:.{digits}f}"
    if float(text) == 0.0:
        text = text.lstrip("-")  # never "-0.0 %"
    return f"{text} %"


def points(d: float, digits: int = 1) -> str:
    """A difference of two fractions in percentage points, never in ``%``.

    ``points(0.032) == "3.2 percentage points"``. The sign is kept (``points(-0.01) ==
    "-1.0 percentage points"``), so the number never says less than it measured; where the
    words carry the direction ("ahead by", "drops by"), pass ``abs(d)``. Always plural, also
    for 1.0. Used by :func:`compare`, :func:`spread_vs_binomial` and :func:`uncertainty_shift`,
    and called in ``06_preprocessing``, ``07_classical_baseline``, ``09_cnn_multiclass`` and
    ``16_better_emotion_model``.
    """
    d = _fraction(d, "d")
    text = f"{100.0 * d:.{digits}f}"
    if float(text) == 0.0:
        text = text.lstrip("-")
    return f"{text} percentage points"


def compare(a: float, b: float, *, a_name: str, b_name: str, se: float | None = None, digits: int = 1) -> str:
    """Who is ahead, by how much; or "level" when the difference is within one standard error.

    >>> compare(0.426, 0.40, a_name="the CNN", b_name="the SVM")
    'the CNN (42.6 %) is ahead of the SVM (40.0 %) by 2.6 percentage points'

    ``se`` (a fraction, e.g. :func:`~course_utils.learning.diagnosis.binomial_se` of the difference or of one accuracy): when
    given and ``|a - b| <= se`` the two are called level. A difference that rounds to zero at
    ``digits`` is level as well. Why two numbers within one standard error are level is taught
    in ``07_classical_baseline``; used in ``06_preprocessing``, ``07_classical_baseline``,
    ``08_cnn_binary``, ``09_cnn_multiclass``, ``14_raw_waveform``, ``16_better_emotion_model``,
    ``17_new_voices`` and ``99_results``.
    """
    a, b = _fraction(a, "a"), _fraction(b, "b")
    d = a - b
    left, right = f"{a_name} ({pct(a, digits)})", f"{b_name} ({pct(b, digits)})"
    if se is not None:
        se = _fraction(se, "se")
        if se < 0:
            raise ValueError(f"se must be >= 0, got {se!r}")
        if abs(d) <= se:
            return (f"{left} and {right} are level: the difference of {points(abs(d), digits)} "
                    f"is within one standard error ({points(se, digits)})")
    if float(f"{100.0 * abs(d):.{digits}f}") == 0.0:
        return f"{left} and {right} are level"
    word = "ahead of" if d > 0 else "behind"
    return f"{left} is {word} {right} by {points(abs(d), digits)}"


def versus_chance(acc: float, chance: float, n: int) -> str:
    """Where an accuracy on ``n`` test clips stands against ``chance``, in words.

    The yardstick is the binomial standard error of chance at ``n`` clips, ``se =
    binomial_se(chance, n)``: more than 5 se above chance is ``"far above chance (12.5 %)"``,
    2-5 se above is ``"above chance (...)"``, within 2 se either way ``"not distinguishable
    from chance (...)"``, more than 2 se below ``"below chance (...)"``. Chance is one over the
    number of classes (:func:`course_utils.course.study.chance`). Used in ``07_classical_baseline``,
    ``08_cnn_binary``, ``09_cnn_multiclass`` and ``17_new_voices``, and by :func:`calibration`
    (``15_uncertainty``).
    """
    acc, chance = _fraction(acc, "acc"), _fraction(chance, "chance")
    se = binomial_se(chance, n)
    z = (acc - chance) / se if se > 0 else math.copysign(math.inf, acc - chance) if acc != chance else 0.0
    if z > FAR_ABOVE_SE:
        word = "far above chance"
    elif z > DISTINGUISHABLE_SE:
        word = "above chance"
    elif z >= -DISTINGUISHABLE_SE:
        word = "not distinguishable from chance"
    else:
        word = "below chance"
    return f"{word} ({pct(chance)})"


# --------------------------------------------------------------------------------------
# Pitch
# --------------------------------------------------------------------------------------
def semitones(f_high: float, f_low: float) -> float:
    """The interval from ``f_low`` up to ``f_high`` in semitones, ``12 log2(f_high / f_low)``.

    12 semitones are an octave (double the frequency). This is
    :func:`course_utils.sound.spectrum.semitones` with the higher frequency first. Used by
    :func:`pitch_gap` (``02_spectrum``, ``04_mel_scale``, ``05_eda``, ``07_classical_baseline``);
    called directly in ``04_mel_scale``.
    """
    f_high, f_low = _fraction(f_high, "f_high"), _fraction(f_low, "f_low")
    if f_high <= 0 or f_low <= 0:
        raise ValueError(f"frequencies must be positive, got {f_high!r} and {f_low!r}")
    return float(spectrum.semitones(f_low, f_high))


def pitch_gap(f_low: float, f_high: float, digits: int = 1) -> str:
    """How far apart two pitches are: ``"9.1 semitones apart (less than an octave)"``.

    "(about an octave)" only within 1.5 semitones of 12, otherwise "(less than an octave)" or
    "(more than an octave)". The order of the two frequencies does not matter. Used for the
    gap between the median f0 of men and of women in ``02_spectrum``, ``04_mel_scale``,
    ``05_eda`` and ``07_classical_baseline``.
    """
    gap = abs(semitones(f_high, f_low))
    rounded = float(f"{gap:.{digits}f}")
    if abs(gap - 12.0) <= OCTAVE_TOLERANCE_ST:
        note = "about an octave"
    elif gap < 12.0:
        note = "less than an octave"
    else:
        note = "more than an octave"
    unit = "semitone" if rounded == 1.0 else "semitones"
    return f"{gap:.{digits}f} {unit} apart ({note})"


# --------------------------------------------------------------------------------------
# Spreads and sizes
# --------------------------------------------------------------------------------------
def spread_vs_binomial(fold_accuracies: Sequence[float], n_per_fold: int) -> str:
    """Do the folds (or seeds) vary more than test-set sampling alone would make them?

    Compares ``s``, the standard deviation of ``fold_accuracies`` (``ddof=1``), with the
    binomial standard error of one fold at the mean accuracy, ``se = binomial_se(mean,
    n_per_fold)``: ``"the folds vary about as much as the binomial standard error of one fold
    (s vs se) predicts"``, ``"more than"`` when ``s > 1.5 se`` (the folds really differ, e.g.
    some actors are harder), ``"less than"`` when ``s < se / 1.5``. Used in
    ``16_better_emotion_model`` (the actor folds).
    """
    acc = np.asarray(fold_accuracies, dtype=float)
    if acc.ndim != 1 or acc.size < 2:
        raise ValueError(f"need the accuracies of at least two folds, got {fold_accuracies!r}")
    if not np.all(np.isfinite(acc)) or acc.min() < 0 or acc.max() > 1:
        raise ValueError(f"fold accuracies must be fractions in [0, 1], got {fold_accuracies!r}")
    s = float(acc.std(ddof=1))
    se = binomial_se(float(acc.mean()), n_per_fold)
    if s > SPREAD_FACTOR * se:
        word = "more than"
    elif s * SPREAD_FACTOR < se:
        word = "less than"
    else:
        word = "about as much as"
    return (f"the folds vary {word} the binomial standard error of one fold "
            f"({points(s)} vs {points(se)}) predicts")


def weigh(a: float, b: float, *, factor: float = 1.25) -> str:
    """How a non-negative quantity ``a`` compares with ``b``: ``"more than"`` when ``a > factor
    b``, ``"less than"`` when ``a factor < b``, otherwise ``"about as much as"``.

    For sentences such as "the speaker moves the level {weigh(eta_actor, eta_emotion)} the
    emotion does": every sentence about the same pair of numbers says the same, because it is
    made from the same numbers by the same rule. Used in ``05_eda`` (the actor's and the
    emotion's share of the variance of loudness and pitch) and by :func:`uncertainty_shift`
    (``15_uncertainty``).
    """
    a, b = _fraction(a, "a"), _fraction(b, "b")
    if a < 0 or b < 0 or factor < 1:
        raise ValueError(f"weigh needs a, b >= 0 and factor >= 1, got {a!r}, {b!r}, {factor!r}")
    if a > factor * b:
        return "more than"
    if a * factor < b:
        return "less than"
    return "about as much as"


# --------------------------------------------------------------------------------------
# Confidence and calibration (chapter 15)
# --------------------------------------------------------------------------------------
#: calibration: a mean confidence within this much of the accuracy is "calibrated on average";
#: uncertainty_shift: a confidence that falls by less than this has not fallen.
CONFIDENCE_TOLERANCE = 0.01


def _confidence_word(confidence: float, accuracy: float) -> str:
    if confidence > accuracy + CONFIDENCE_TOLERANCE:
        return "overconfident"
    if confidence < accuracy - CONFIDENCE_TOLERANCE:
        return "underconfident"
    return "calibrated on average"


def _same_length(**lists) -> int:
    sizes = {k: len(v) for k, v in lists.items()}
    if len(set(sizes.values())) != 1 or not next(iter(sizes.values())):
        raise ValueError(f"need one value per model in each list, got lengths {sizes}")
    return next(iter(sizes.values()))


def calibration(ece: Sequence[float], confidence: Sequence[float], accuracy: Sequence[float], *,
                names: Sequence[str], chance: float, n: int) -> str:
    """Which of several models is best calibrated on one test set, and which way each one errs.

    ``ece``, ``confidence`` (the mean of the largest probability) and ``accuracy`` hold one value
    per model, in the order of ``names``. The model with the lowest expected calibration error
    is named best calibrated; each model is "overconfident" when its mean confidence exceeds
    its accuracy by more than one point (:data:`CONFIDENCE_TOLERANCE`), "underconfident" when it
    falls short by more, otherwise "calibrated on average". When the best-calibrated model is
    not above chance on the ``n`` test clips (:func:`versus_chance`), the sentence says that
    near-uniform probabilities are calibrated without telling the classes apart. Used in
    ``15_uncertainty``.
    """
    k = _same_length(ece=ece, confidence=confidence, accuracy=accuracy, names=names)
    ece = [_fraction(x, "ece") for x in ece]
    best = min(range(k), key=lambda i: ece[i])
    parts = [f"best calibrated (lowest ECE, {ece[best]:.3f}) is **{names[best]}**."]
    standing = versus_chance(accuracy[best], chance, n)
    if not standing.startswith(("far above", "above")):
        parts.append(f"But its accuracy ({pct(accuracy[best], 0)}) is {standing}: probabilities close to uniform "
                     "are calibrated without telling the classes apart, so its ECE counts only next to its accuracy.")
    for name, c, a in zip(names, confidence, accuracy):
        c, a = _fraction(c, "confidence"), _fraction(a, "accuracy")
        parts.append(f"{name[:1].upper() + name[1:]} is {_confidence_word(c, a)} "
                     f"(mean confidence {pct(c, 0)} against {pct(a, 0)} correct).")
    return " ".join(parts)


def averaging_confidence(reference: Sequence[float], sampled: Sequence[float], *, names: Sequence[str]) -> str:
    """Does averaging sampled networks lower the mean confidence, on every test set?

    ``reference`` and ``sampled``: the mean confidence of one network and of the average of
    its sampled versions (Monte-Carlo dropout), one value per test set named in ``names``.
    Used in ``15_uncertainty``.
    """
    _same_length(reference=reference, sampled=sampled, names=names)
    lower = [n for n, r, s in zip(names, reference, sampled) if _fraction(s, "sampled") < _fraction(r, "reference")]
    if len(lower) == len(names):
        return ("Averaging many sampled networks pulls probabilities towards the middle: the sampled average's "
                "mean confidence is lower than the single network's on every test set here.")
    if not lower:
        return ("Averaging sampled networks did not lower the mean confidence on any test set here: "
                "the network with dropout switched off was the less confident one.")
    return ("Averaging sampled networks lowered the mean confidence on " + ", ".join(lower)
            + " but not on " + ", ".join(n for n in names if n not in lower) + ".")


def uncertainty_shift(acc_known: float, acc_new: float, conf_known: float, conf_new: float,
                      entropy_known: float, entropy_new: float, *, n_known: int, n_new: int, name: str) -> str:
    """From known voices to unseen ones: does a model's confidence follow its accuracy down?

    The accuracy counts as fallen when it drops by more than one standard error of the
    difference (:func:`difference_se` on ``n_known`` and ``n_new`` test clips). A model that
    notices that it knows less lowers its mean confidence (the mean of its largest
    probability, in the same units as the accuracy) by about as much (:func:`weigh`); one
    whose confidence falls by less notices only part of the loss; one whose confidence does
    not fall by at least one point (:data:`CONFIDENCE_TOLERANCE`) does not notice. The mean predictive entropies (nats) are
    reported beside. An accuracy that does not fall leaves nothing to notice, and the sentence
    says so. Used in ``15_uncertainty`` (random split against actors held out).
    """
    a0, a1 = _fraction(acc_known, "acc_known"), _fraction(acc_new, "acc_new")
    c0, c1 = _fraction(conf_known, "conf_known"), _fraction(conf_new, "conf_new")
    e0, e1 = _fraction(entropy_known, "entropy_known"), _fraction(entropy_new, "entropy_new")
    se = difference_se(a0, n_known, a1, n_new)
    head = (f"**{name}**: accuracy {pct(a0)} -> {pct(a1)}, mean confidence {pct(c0)} -> {pct(c1)}, "
            f"mean entropy {e0:.2f} -> {e1:.2f} nats: ")
    acc_drop, conf_drop = a0 - a1, c0 - c1
    if acc_drop <= se:
        moved = "does not fall" if acc_drop >= -se else "rises"
        return head + (f"the accuracy {moved} beyond one standard error ({points(se)}) on unseen voices, "
                       "so there is no loss for the uncertainty to show.")
    if conf_drop < CONFIDENCE_TOLERANCE:
        return head + (f"the accuracy falls by {points(acc_drop)} but the confidence does not: "
                       "it does not notice that it knows less.")
    word = weigh(conf_drop, acc_drop)
    verdict = "it notices that it knows less" if word != "less than" else "it notices only part of the loss"
    return head + f"the confidence falls by {points(conf_drop)}, {word} the accuracy ({points(acc_drop)}): {verdict}."


# --------------------------------------------------------------------------------------
# The phrases that make whole sentences
# --------------------------------------------------------------------------------------
#: The functions that produce sentences, by name (for a registry of claims).
PHRASES: dict[str, Callable[..., str]] = {
    "compare": compare,
    "versus_chance": versus_chance,
    "pitch_gap": pitch_gap,
    "spread_vs_binomial": spread_vs_binomial,
    "calibration": calibration,
    "averaging_confidence": averaging_confidence,
    "uncertainty_shift": uncertainty_shift,
}
