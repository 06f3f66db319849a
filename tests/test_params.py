"""Notebook parameters are checked (issue 14, section 1): course_utils.course.params and every chapter."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_utils.base import errors
from course_utils.course import params

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def parameters_cell(nb_path: Path) -> tuple[int, str]:
    nb = nbformat.read(nb_path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.metadata.get("tags", []):
            return i, cell.source
    raise AssertionError(f"{nb_path.name} has no cell tagged 'parameters'")


def declared(nb_path: Path) -> dict:
    _, source = parameters_cell(nb_path)
    ns: dict = {}
    exec(compile(source, nb_path.name, "exec"), ns)  # noqa: S102 - the course's own parameters cell
    names = [t.id for node in ast.parse(source).body if isinstance(node, ast.Assign) for t in node.targets]
    return {name: ns[name] for name in names}


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_declares_what_the_checker_knows_and_its_defaults_pass(nb_path):
    values = declared(nb_path)
    assert set(values) == set(params.CHAPTERS[nb_path.stem]), f"{nb_path.name}: keep params.CHAPTERS equal to its parameters cell"
    params.check(values, nb_path.stem)  # the defaults are allowed


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter_and_its_help(nb_path, caplog):
    # `papermill --help-notebook` lists the parameters with their comments; a second "=" on a line
    # (e.g. in the comment) makes papermill warn "Unable to parse line" at the start of every run
    from papermill.translators import PythonTranslator

    i, source = parameters_cell(nb_path)
    with caplog.at_level("WARNING", logger="papermill"):
        found = PythonTranslator.inspect(nbformat.v4.new_code_cell(source))
    assert not caplog.records, f"{nb_path.name}: {caplog.records[0].getMessage()}"
    assert [p.name for p in found] == list(declared(nb_path))
    assert all(p.help for p in found), f"{nb_path.name}: every parameter needs a comment saying what it does"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_checks_its_parameters_in_the_next_cell(nb_path):
    i, _ = parameters_cell(nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    assert f'params.check(globals(), "{nb_path.stem}")' in nb.cells[i + 2].source  # after the Colab setup cell


def test_one_meaning_per_name_every_parameter_is_in_the_registry():
    for chapter, names in params.CHAPTERS.items():
        for name, own in names.items():
            assert name in params.PARAMETERS, f"{chapter}.{name} has no entry in params.PARAMETERS"
            if own is not None:  # a chapter may allow less, never mean something else
                assert own.meaning.split(",")[0].split(":")[0] in params.PARAMETERS[name].meaning


def _bad(chapter, **changes):
    values = declared(ROOT / "notebooks" / f"{chapter}.ipynb")
    values.update(changes)
    with pytest.raises(errors.ParameterError) as err:
        params.check(values, chapter)
    return str(err.value)


@pytest.mark.parametrize("value", ["false", "False", "yes", "no", "0", "1", "", "true"])
def test_strings_that_look_like_booleans_are_refused_not_guessed(value):
    msg = _bad("08_cnn_binary", quick=value)
    assert f"quick = {value!r} (a str) is not allowed" in msg
    assert "True or False" in msg and "Fix: set quick = False" in msg
    if value:
        assert "not guessed" in msg


@pytest.mark.parametrize("chapter, name, value, allowed", [
    ("08_cnn_binary", "epochs_sex", -1, "from 1 to"),
    ("16_better_emotion_model", "epochs", -1, "from 1 to"),
    ("10_augmentation", "epochs", 0, "from 1 to"),
    ("08_cnn_binary", "image_size", 7, "from 16 to"),
    ("11_transfer_vgg16", "image_size", 16, "from 32 to"),
    ("12_autoencoder", "image_size", 72, "a multiple of 16"),
    ("09_cnn_multiclass", "batch_size", 0, "from 1 to"),
    ("05_eda", "image_size", (128, 128), "a whole number"),
    ("16_better_emotion_model", "dropout", 1.0, "< 1"),
    ("17_new_voices", "ensemble_weight", 1.5, "<= 1.0"),
    ("11_transfer_vgg16", "trainable_from", "block9_conv1", "'block3_conv1'"),
    ("11_transfer_vgg16", "weights", "imagenette", "'imagenet'"),
    ("10_augmentation", "variants", ["none", "cutmix"], "'specaugment'"),
    ("13_multitask", "loss_weights", {"sex": 1.0, "colour": 1.0}, "a dict from some of"),
    ("05_eda", "f0_range", (500, 50), "increasing"),
    ("07_classical_baseline", "c_grid", "[0.1, 1]", "need -y"),
    ("08_cnn_binary", "n_jobs", 0, "not 0"),
    ("02_spectrum", "seed", 1.5, "a whole number"),
    ("03_spectrogram", "n_fft", np.nan, "a whole number"),
    ("00_getting_the_data", "dataset", "RAVDESS", "'ravdess'"),
    ("18_pretrained_speech", "source", "online", "'offline'"),
    ("18_pretrained_speech", "window_seconds", 31, "from 1 to 30"),
    ("18_pretrained_speech", "hub_timeout", 0, "> 0.0"),
    ("18_pretrained_speech", "preset", "", "a preset name"),
])
def test_a_bad_value_names_the_parameter_the_value_what_is_allowed_and_the_fix(chapter, name, value, allowed):
    msg = _bad(chapter, **{name: value})
    assert msg.startswith(f"{chapter}: {name} = {value!r}")
    assert allowed in msg
    assert f"Fix: set {name} = " in msg
    fix_value = msg.split(f"Fix: set {name} = ")[1].split(" in the parameters cell")[0]
    values = declared(ROOT / "notebooks" / f"{chapter}.ipynb")
    values[name] = ast.literal_eval(fix_value)
    params.check(values, chapter)  # the value the fix proposes is allowed


def test_none_is_allowed_only_where_it_means_something():
    _bad("08_cnn_binary", batch_size=None)
    values = declared(ROOT / "notebooks" / "08_cnn_binary.ipynb")
    params.check({**values, "epochs_sex": None, "patience": None}, "08_cnn_binary")


def test_folds_are_what_splits_can_make():
    """splits.actor_folds needs a test, a validation and a training group with both sexes in each."""
    for bad in (2, 13):
        assert "n_folds" in _bad("16_better_emotion_model", n_folds=bad)
    values = declared(ROOT / "notebooks" / "16_better_emotion_model.ipynb")
    params.check({**values, "n_folds": 3, "max_folds": 3}, "16_better_emotion_model")


def test_values_that_are_fine_alone_but_not_together():
    assert "max_folds = 5 is more than n_folds = 3" in _bad("16_better_emotion_model", n_folds=3, max_folds=5)
    assert "even" in _bad("02_spectrum", male_actor=2)
    assert "odd" in _bad("02_spectrum", female_actor=3)
    assert "clips_quick" in _bad("04_mel_scale", clips_quick=2000, clips_full=100)


def test_a_missing_parameter_and_unknown_chapters():
    values = declared(ROOT / "notebooks" / "00_getting_the_data.ipynb")
    del values["seed"]
    with pytest.raises(errors.ParameterError, match="seed is missing"):
        params.check(values, "00_getting_the_data")
    with pytest.raises(KeyError, match="unknown chapter"):
        params.check(values, "42_nothing")
    with pytest.raises(KeyError, match="has no parameter"):
        params.spec("00_getting_the_data", "epochs")


def test_every_spec_example_is_allowed_and_every_message_has_a_fix():
    for name, spec in params.PARAMETERS.items():
        assert spec.test(spec.example), name
    with pytest.raises(ValueError, match="example"):
        params.real("no example", 0.0, 1.0)


def test_course_errors_render_as_their_message_in_ipython():
    err = errors.ParameterError("08_cnn_binary: quick = 'no' is not allowed.\nFix: set quick = False")
    lines = err._render_traceback_()
    assert "ParameterError" in lines[0] and "quick = 'no'" in lines[0]
    assert lines[1] == "Fix: set quick = False"
    assert isinstance(err, ValueError)


def test_image_size_means_the_same_in_every_chapter():
    """05 took a pair and 08-16 a number: ``-p image_size 64`` was a TypeError in 05. Now one meaning."""
    for chapter, names in params.CHAPTERS.items():
        if "image_size" in names:
            values = declared(ROOT / "notebooks" / f"{chapter}.ipynb")
            params.check({**values, "image_size": 64}, chapter)
