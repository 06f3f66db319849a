"""The study the course re-creates, as data: its results, model sizes, split and chance levels.

Taught in ``07_classical_baseline`` (the baseline next to the study's numbers) and in
``99_results`` (every result of the course next to the study's).

Ravenda & Longobucco, *Ravdess Emotional Speech Audio - Multiple Deep Learning approaches for
the analysis of audio signals*, Università di Milano-Bicocca, January 2023 (R + Keras). The
numbers below are the paper's, typed in once here so that no notebook has to type them:

- :func:`results_table`: one row per (task, model) the study reports, test accuracy as a
  fraction (the autoencoder's figure is a *validation* accuracy, and two figures are only
  "about": see the columns ``measured_on`` and ``approximate``);
- :func:`study_accuracy`: the study's number for one (task, model);
- :data:`PARAMETERS`: parameter counts of the study's three architectures;
- :data:`SPLIT_PRINTED` / :data:`SPLIT_CORRECT` and :func:`split_table`: the paper prints
  1008 / 432 / 432 files for its 70 / 15 / 15 % split, which adds up to 1872 > 1440; 15 % of
  1440 is 216, so the course uses 1008 / 216 / 216;
- :data:`CHANCE` / :func:`chance`: chance level of each task (one over the number of classes,
  as the study quotes it);
- :func:`compare`: a table of the course's own accuracies next to the study's and chance.
"""

from __future__ import annotations

import pandas as pd

#: The study, for citations in figures and tables.
CITATION = (
    "Ravenda & Longobucco (2023), Ravdess Emotional Speech Audio - Multiple Deep Learning "
    "approaches for the analysis of audio signals, Università di Milano-Bicocca"
)

#: The four tasks of the study and their number of classes.
N_CLASSES = {"sex": 2, "statement": 2, "actor": 24, "emotion": 8}

#: Chance level of each task as the study quotes it: one over the number of classes.
CHANCE = {task: 1.0 / n for task, n in N_CLASSES.items()}

#: Parameter counts of the study's architectures (Tables 1-3 of the paper).
PARAMETERS = {
    "cnn": 31_509_121,  # Table 1, binary version: Conv 32 -> Conv 64 -> Dense 128 -> 1 sigmoid
    "autoencoder": 1_058_273,  # Table 2: convolutional autoencoder, 128-d latent code
    "ffnn": 74_696,  # Table 3: Dense 256 -> 128 -> 64 -> 8 softmax on the 128-d codes
}

#: Train / validation / test files as the paper prints them (they add up to 1872, not 1440).
SPLIT_PRINTED = (1008, 432, 432)
#: The 70 / 15 / 15 % split of 1440 files that the course uses.
SPLIT_CORRECT = (1008, 216, 216)
#: The fractions the study states.
SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
#: Files in RAVDESS speech: 24 actors x 60 trials.
N_FILES = 1440

#: Models of :func:`results_table` and what each name means.
MODELS = {
    "cnn": "the study's CNN (Table 1), head adapted per task",
    "cnn_augmented": "the emotion CNN trained with data augmentation",
    "vgg16": "VGG16 (ImageNet) fine-tuned from block3_conv1 with a new dense head",
    "autoencoder_ffnn": "convolutional autoencoder (Table 2) + FFNN on its codes (Table 3)",
}

_COLUMNS = ["task", "model", "head", "epochs", "accuracy", "chance", "measured_on", "approximate", "note"]

# task, model, head / change, epochs (None: not stated), accuracy, measured_on, approximate, note
_ROWS = [
    ("statement", "cnn", "Table 1 (Dense 128, 1 sigmoid)", 40, 0.9491, "test", False, ""),
    ("sex", "cnn", "Table 1 (Dense 128, 1 sigmoid)", 50, 0.9722, "test", False, ""),
    ("actor", "cnn", "Dense 512, 24-way softmax", 50, 0.5556, "test", False,
     "overfits mildly from epoch 40 on; same-sex actors with similar voices are confused"),
    ("emotion", "cnn", "Dense 256, 8-way softmax", 50, 0.4259, "test", False,
     "overfits strongly; neutral (half as many clips) is recognised worst"),
    ("emotion", "cnn_augmented", "as cnn; zoom 0.05, width shift 0.02, height shift 0.02", None, 0.4398, "test", False,
     "trained for more than 50 epochs"),
    ("emotion", "vgg16", "VGG16 (ImageNet) fine-tuned from block3_conv1, new dense head", None, 0.125, "test", True,
     "about chance"),
    ("emotion", "autoencoder_ffnn", "autoencoder 128-d codes -> FFNN 256-128-64-8", None, 0.20, "validation", True,
     "about 20 %; overfitting gone, accuracy fell"),
]


def results_table() -> pd.DataFrame:
    """The study's results, one row per (task, model), accuracies as fractions.

    Columns: ``task``, ``model`` (a key of :data:`MODELS`), ``head`` (the head or the change
    made for this row), ``epochs`` (nullable integer; missing where the paper gives none),
    ``accuracy`` (fraction), ``chance`` (:data:`CHANCE`), ``measured_on`` (``"test"``, or
    ``"validation"`` for the autoencoder), ``approximate`` (the paper says only "about"),
    ``note``. Taught in ``07_classical_baseline`` (the study's numbers) and shown again in
    ``99_results``; :func:`course_utils.course.summary.accuracy_table` puts every chapter's
    accuracies beside it.
    """
    rows = [(t, m, h, e, a, CHANCE[t], on, approx, note) for t, m, h, e, a, on, approx, note in _ROWS]
    table = pd.DataFrame(rows, columns=_COLUMNS)
    table["epochs"] = table["epochs"].astype("Int64")
    return table


def _check_task(task: str) -> None:
    if task not in N_CLASSES:
        raise KeyError(f"unknown task {task!r}; the study's tasks are {list(N_CLASSES)}")


def chance(task: str) -> float:
    """Chance level of ``task`` as the study quotes it (1 / number of classes). Used wherever a
    chapter judges an accuracy against chance: ``06_preprocessing`` to ``08_cnn_binary`` and
    ``11_transfer_vgg16`` to ``17_new_voices``, and the tables of ``99_results``."""
    _check_task(task)
    return CHANCE[task]


def study_accuracy(task: str, model: str = "cnn") -> float:
    """The study's accuracy (a fraction) for ``task`` with ``model`` (see :data:`MODELS`).

    Used by ``07_classical_baseline``, ``09_cnn_multiclass``, ``10_augmentation`` and
    ``12_autoencoder`` to ``17_new_voices``, to put a result next to the study's.

    >>> study_accuracy("sex")
    0.9722
    """
    _check_task(task)
    table = results_table()
    hit = table[(table["task"] == task) & (table["model"] == model)]
    if hit.empty:
        known = table.loc[table["task"] == task, "model"].tolist()
        raise KeyError(f"the study reports no result for task {task!r} with model {model!r}; for {task!r} it reports {known}")
    return float(hit["accuracy"].iloc[0])


def split_table(n_files: int = N_FILES) -> pd.DataFrame:
    """The split as printed by the paper and as 70 / 15 / 15 % of ``n_files`` really is.

    One row per part (train, validation, test, total) with the fraction, the paper's count,
    the correct count (:data:`SPLIT_CORRECT` for 1440 files) and the fraction the paper's
    count would be of ``n_files``. Taught in ``07_classical_baseline`` (the paper's 1008 / 432 / 432).
    """
    n_val, n_test = round(SPLIT_FRACTIONS[1] * n_files), round(SPLIT_FRACTIONS[2] * n_files)
    correct = (n_files - n_val - n_test, n_val, n_test)
    table = pd.DataFrame(
        {
            "fraction": list(SPLIT_FRACTIONS) + [sum(SPLIT_FRACTIONS)],
            "paper": list(SPLIT_PRINTED) + [sum(SPLIT_PRINTED)],
            "correct": list(correct) + [sum(correct)],
        },
        index=pd.Index(["train", "validation", "test", "total"], name="part"),
    )
    table["paper / files"] = (table["paper"] / n_files).round(3)
    return table


def compare(measured: pd.DataFrame, *, model: str = "cnn", value: str = "accuracy") -> pd.DataFrame:
    """The course's accuracies next to the study's (``model``) and chance.

    ``measured`` has a column ``task`` and a column ``value`` (any other columns, e.g.
    protocol or classifier, are kept). Adds ``study`` (the study's accuracy, NaN where it
    reports none for that task and model) and ``chance`` (:data:`CHANCE`), and
    ``vs_study`` = measured minus study (fractions). Used in ``07_classical_baseline``,
    ``08_cnn_binary``, ``09_cnn_multiclass``, ``10_augmentation`` and ``12_autoencoder``.
    """
    missing = {"task", value} - set(measured.columns)
    if missing:
        raise KeyError(f"measured needs the columns 'task' and {value!r}; missing {sorted(missing)}")
    out = measured.copy()
    for task in out["task"].unique():
        _check_task(task)
    table = results_table()
    ours = table[table["model"] == model].set_index("task")["accuracy"]
    out["study"] = out["task"].map(ours).astype(float)
    out["chance"] = out["task"].map(CHANCE).astype(float)
    out["vs_study"] = out[value].astype(float) - out["study"]
    return out
