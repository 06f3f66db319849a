"""Tests of course_utils.data.synth: the offline RAVDESS-compatible corpus (espeak-ng voices)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from course_utils.data import audio, metadata, synth

SUBSET = [1, 2]  # one male, one female actor


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _tree(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every wav below root."""
    return {str(p.relative_to(root)): _digest(p) for p in sorted(Path(root).rglob("*.wav"))}


def _f0(y: np.ndarray, sr: int) -> float:
    """Median f0 (Hz) of the loud frames of a mono signal."""
    y16 = librosa.resample(y.astype(np.float32), orig_sr=sr, target_sr=16_000, res_type="soxr_hq")
    f0 = librosa.yin(y16, fmin=60, fmax=500, sr=16_000, frame_length=1024, hop_length=256)
    rms = librosa.feature.rms(y=y16, frame_length=1024, hop_length=256, center=True)[0][: len(f0)]
    loud = rms > rms.max() * 10 ** (-20 / 20)
    return float(np.median(f0[: len(rms)][loud]))


def _mono(name: str, seed: int = 0) -> np.ndarray:
    y, _ = synth.render(name, seed)
    y = y.astype(np.float64) / 32768
    return y.mean(axis=1) if y.ndim == 2 else y


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> Path:
    """Actors 1 and 2 (120 files), written by two worker processes."""
    dest = tmp_path_factory.mktemp("synth") / "corpus"
    return synth.generate_corpus(dest, actors=SUBSET, seed=0, workers=2, progress=False)


# --- layout and format ---------------------------------------------------------------


def test_layout_matches_expected_filenames(small_corpus):
    expected = {f"Actor_{int(n[-6:-4]):02d}/{n}" for n in metadata.expected_filenames(SUBSET)}
    found = {str(p.relative_to(small_corpus)) for p in small_corpus.rglob("*.wav")}
    assert found == expected
    assert sorted(p.name for p in small_corpus.iterdir() if p.is_dir()) == ["Actor_01", "Actor_02"]
    assert not list(small_corpus.rglob("*.tmp")), "temporary files left behind"
    manifest = json.loads((small_corpus / "corpus.json").read_text())
    assert manifest["seed"] == 0 and manifest["version"] == synth.GENERATOR_VERSION
    assert manifest["n_files"] == 120 and set(manifest["files"]) == expected


def test_files_are_48k_16bit_with_varied_durations(small_corpus):
    meta = metadata.build_metadata(small_corpus)
    assert len(meta) == 120
    assert set(meta["sample_rate"]) == {48_000}
    assert set(meta["bit_depth"]) == {16}
    assert set(meta["channels"]) <= {1, 2}
    assert meta["duration"].between(2.0, 7.0).all()
    assert meta["duration"].nunique() > 100, "durations should (almost) never repeat"
    assert metadata.describe_counts(meta).loc["neutral"].tolist() == [2 * 2, 2 * 2]  # 4 per actor


def test_silence_head_and_tail_with_low_noise_floor(small_corpus):
    for path in sorted(small_corpus.rglob("*.wav"))[::10]:
        y, sr = audio.load_audio(path, sr=None)
        head, tail = y[: int(0.3 * sr)], y[-int(0.3 * sr) :]

        def db(x):
            return 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12)

        loudest = max(db(y[i : i + sr // 4]) for i in range(0, len(y) - sr // 4, sr // 8))
        assert loudest - db(head) > 30, path.name  # trimming at 30 dB must find the silence
        assert loudest - db(tail) > 30, path.name
        assert -85 < db(head) < -62, f"{path.name}: noise floor {db(head):.1f} dBFS"


def test_some_stereo_files_nearly_identical_channels():
    names = metadata.expected_filenames()
    stereo = [n for n in names if synth.take_parameters(n).stereo]
    assert 0.01 * len(names) <= len(stereo) <= 0.06 * len(names)
    y, sr = synth.render(stereo[0])
    assert y.ndim == 2 and y.shape[1] == 2
    left, right = y[:, 0].astype(float), y[:, 1].astype(float)
    assert np.corrcoef(left, right)[0, 1] > 0.99
    assert not np.array_equal(left, right)


# --- determinism, idempotence, partial corpora --------------------------------------


def test_same_call_elsewhere_gives_identical_bytes_and_subset_equals_superset(small_corpus, tmp_path):
    # actor 2 alone, in this process, in another folder == actor 2 of the two-actor corpus
    # written by two worker processes
    other = synth.generate_corpus(tmp_path / "again", actors=[2], workers=1, progress=False)
    mine = _tree(other)
    theirs = {k: v for k, v in _tree(small_corpus).items() if k.startswith("Actor_02")}
    assert mine == theirs and len(mine) == 60


def test_render_equals_written_file_and_is_order_independent(small_corpus):
    names = metadata.expected_filenames([1])
    a = synth.render(names[7])[0]
    synth.render(names[3])  # something else in between: espeak-ng state must not leak
    b = synth.render(names[7])[0]
    assert np.array_equal(a, b)
    written, sr = sf.read(small_corpus / "Actor_01" / names[7], dtype="int16")
    assert sr == 48_000 and np.array_equal(written, a)


def test_espeak_output_does_not_depend_on_previous_utterances():
    eng = synth.engine()
    voice = synth._voice_name(synth.actor_profile(3))
    first = eng.speak("Kids are talking by the door.", voice)
    eng.speak("Dogs are sitting by the door!", synth._voice_name(synth.actor_profile(4)), pitch=80, rate=250)
    again = eng.speak("Kids are talking by the door.", voice)
    assert np.array_equal(first, again)
    assert first.dtype == np.int16 and len(first) > eng.sample_rate // 2


def test_rerun_on_complete_corpus_does_nothing_quickly(small_corpus):
    stamps = {p: p.stat().st_mtime_ns for p in small_corpus.rglob("*")}
    start = time.perf_counter()
    again = synth.generate_corpus(small_corpus, actors=SUBSET, progress=True)
    assert time.perf_counter() - start < 0.5
    assert again == small_corpus
    assert {p: p.stat().st_mtime_ns for p in small_corpus.rglob("*")} == stamps
    assert synth.corpus_is_complete(small_corpus, actors=SUBSET)
    assert not synth.corpus_is_complete(small_corpus, actors=[1, 2, 3])
    assert not synth.corpus_is_complete(small_corpus, actors=SUBSET, seed=1)


def test_partial_corpus_is_completed(tmp_path):
    dest = synth.generate_corpus(tmp_path / "c", actors=[3], workers=1, progress=False)
    before = _tree(dest)
    files = sorted(dest.rglob("*.wav"))
    files[0].unlink()  # deleted
    files[1].write_bytes(files[1].read_bytes()[:1000])  # truncated
    (dest / "Actor_03" / ".03-01-01-01-01-01-03.wav.abc.tmp").write_bytes(b"half")  # interrupted write
    untouched = files[2].stat().st_mtime_ns
    synth.generate_corpus(dest, actors=[3], workers=1, progress=False)
    assert _tree(dest) == before
    assert files[2].stat().st_mtime_ns == untouched, "a valid file was rewritten"
    assert not list(dest.rglob("*.tmp"))


def test_corpus_without_manifest_is_never_trusted(tmp_path):
    dest = synth.generate_corpus(tmp_path / "c", actors=[4], workers=1, progress=False)
    before = _tree(dest)
    victim = sorted(dest.rglob("*.wav"))[5]
    victim.write_bytes(bytes(victim.stat().st_size))  # same size, wrong content
    (dest / synth.MANIFEST_NAME).unlink()  # as after an interrupted run
    synth.generate_corpus(dest, actors=[4], workers=1, progress=False)
    assert _tree(dest) == before
    # a damaged manifest is no manifest
    (dest / synth.MANIFEST_NAME).write_text("{not json")
    assert synth.read_manifest(dest) is None
    assert not synth.corpus_is_complete(dest, actors=[4])


def test_other_seed_regenerates_and_differs(tmp_path):
    dest = tmp_path / "c"
    synth.generate_corpus(dest, actors=[5], seed=0, workers=1, progress=False)
    seed0 = _tree(dest)
    synth.generate_corpus(dest, actors=[5], seed=1, workers=1, progress=False)
    seed1 = _tree(dest)
    assert seed0.keys() == seed1.keys()
    assert all(seed0[k] != seed1[k] for k in seed0)
    assert synth.read_manifest(dest)["seed"] == 1


def test_subset_added_to_existing_corpus_keeps_it(tmp_path):
    dest = synth.generate_corpus(tmp_path / "c", actors=[6], workers=1, progress=False)
    first = _tree(dest)
    synth.generate_corpus(dest, actors=[6, 7], workers=1, progress=False)
    both = _tree(dest)
    assert {k: v for k, v in both.items() if k.startswith("Actor_06")} == first
    assert len(both) == 120 and synth.read_manifest(dest)["n_files"] == 120


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("actors", [[0], [25], [1, "2"], [1.5], [True]])
def test_unknown_actor_is_refused(tmp_path, actors):
    with pytest.raises(ValueError, match=r"actor id .*1 \.\.\. 24.*Fix"):
        synth.generate_corpus(tmp_path / "c", actors=actors, progress=False)
    assert not (tmp_path / "c").exists(), "nothing may be written for bad input"


def test_other_bad_input_is_refused(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file.*Fix"):
        synth.generate_corpus(a_file, actors=[1], progress=False)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "Actor_01").write_text("x")
    with pytest.raises(NotADirectoryError, match="Actor_01 is a file"):
        synth.generate_corpus(tmp_path / "d", actors=[1], progress=False)
    with pytest.raises(ValueError, match="empty"):
        synth.generate_corpus(tmp_path / "c", actors=[], progress=False)
    with pytest.raises(ValueError, match="list of actor ids"):
        synth.generate_corpus(tmp_path / "c", actors=object(), progress=False)
    with pytest.raises(ValueError, match="dest is empty"):
        synth.generate_corpus("", progress=False)
    for seed in (-1, 1.5, "0", None):
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            synth.generate_corpus(tmp_path / "c", actors=[1], seed=seed, progress=False)
    for workers in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="workers must be a positive integer"):
            synth.generate_corpus(tmp_path / "c", actors=[1], workers=workers, progress=False)
    with pytest.raises(metadata.RavdessNameError):
        synth.render("hello.wav")
    with pytest.raises(ValueError, match="intensity"):
        synth.rules_table("medium")
    assert not (tmp_path / "c").exists()


def test_single_actor_id_is_accepted(tmp_path):
    assert synth._check_actors(3) == [3]
    assert synth._check_actors([2, 1, 2]) == [1, 2]


def test_unknown_voice_raises_espeak_error():
    with pytest.raises(synth.EspeakError, match="no voice"):
        synth.engine().speak("hello", "en-us+no_such_variant_xyz")


def test_second_engine_in_same_process_is_refused():
    synth.engine()
    with pytest.raises(synth.EspeakError, match="already initialised"):
        synth.Espeak(synth._data_dir())


def test_bad_espeak_data_path_gives_clear_error():
    # in a fresh process: initialising the library twice in this one is not allowed
    code = "from course_utils.data.synth import Espeak\nEspeak('/nonexistent/espeak')"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "could not be initialised" in run.stderr and "Fix" in run.stderr


# --- actors and emotions ---------------------------------------------------------------


def test_actor_profiles_differ_and_follow_sex():
    profiles = [synth.actor_profile(a) for a in range(1, 25)]
    assert [p.sex for p in profiles] == ["male", "female"] * 12
    assert len({p.variant for p in profiles}) == 24
    assert max(p.pitch_hz[0] for p in profiles if p.sex == "male") < min(p.pitch_hz[0] for p in profiles if p.sex == "female")
    assert len({round(p.rate_wpm, 3) for p in profiles}) == 24
    assert synth.actor_profile(5) == synth.actor_profile(5, seed=0)
    assert synth.actor_profile(5) != synth.actor_profile(5, seed=1)


def test_voice_variant_switches_off_stateful_effects():
    text = synth.voice_variant_text(synth.actor_profile(2))
    lines = text.splitlines()
    assert lines[0] == "language variant"
    assert "flutter 0" in lines and "roughness 8" in lines
    lo, hi = synth.actor_profile(2).pitch_hz
    assert f"pitch {lo} {hi}" in lines
    assert not [line for line in lines if line.split()[0] in ("breath", "echo", "klatt")]


def test_strong_intensity_deviates_more_than_normal():
    def size(intensity):
        devs = []
        for actor in range(1, 25):
            for emotion in range(2, 9):
                for rep in (1, 2):
                    p = synth.take_parameters(f"03-01-{emotion:02d}-{intensity:02d}-01-{rep:02d}-{actor:02d}.wav")
                    devs.append(abs(p.deviation["pitch"]) + abs(p.deviation["loudness"]))
        return np.mean(devs)

    assert size(2) > 1.3 * size(1)


def test_take_parameters_follow_the_rules_on_average():
    def mean_dev(emotion, col):
        return np.mean([synth.take_parameters(f"03-01-{emotion:02d}-02-{s:02d}-{r:02d}-{a:02d}.wav").deviation[col]
                        for a in range(1, 25) for s in (1, 2) for r in (1, 2)])

    assert mean_dev(5, "loudness") > 5 > 0 > -5 > mean_dev(4, "loudness")  # angry louder, sad softer
    assert mean_dev(6, "pitch") > mean_dev(3, "pitch") > 0 > mean_dev(7, "pitch")  # fearful > happy > 0 > disgust
    assert mean_dev(4, "rate") < 0 < mean_dev(6, "rate")  # sad slower, fearful faster
    surprised = [synth.take_parameters(n).text[-1] for n in metadata.expected_filenames() if n[6:8] == "08"]
    assert set(surprised) == {"?", "!"}


def test_angry_is_louder_and_higher_than_sad_in_the_audio():
    for actor in (1, 2):
        angry = [_mono(f"03-01-05-02-{s:02d}-{r:02d}-{actor:02d}.wav") for s in (1, 2) for r in (1, 2)]
        sad = [_mono(f"03-01-04-02-{s:02d}-{r:02d}-{actor:02d}.wav") for s in (1, 2) for r in (1, 2)]

        def level(y):
            return 20 * np.log10(np.abs(y).max())

        assert np.mean([level(y) for y in angry]) > np.mean([level(y) for y in sad]) + 6
        assert np.mean([_f0(y, 48_000) for y in angry]) > 1.1 * np.mean([_f0(y, 48_000) for y in sad])


def test_male_voices_are_lower_than_female_voices():
    f0 = {a: np.mean([_f0(_mono(f"03-01-01-01-{s:02d}-01-{a:02d}.wav"), 48_000) for s in (1, 2)]) for a in (1, 2, 3, 4)}
    assert max(f0[1], f0[3]) < 0.75 * min(f0[2], f0[4]), f0
    assert 60 < min(f0[1], f0[3]) and max(f0[2], f0[4]) < 400


# --- the rules table ---------------------------------------------------------------------


def test_rules_table_shows_the_rules():
    normal, strong = synth.rules_table(), synth.rules_table("strong")
    assert list(normal.index) == list(metadata.EMOTIONS.values())
    assert "neutral" not in strong.index and len(strong) == 7
    assert normal.loc["sad", "rate (%)"] < 0 < normal.loc["angry", "loudness (dB)"]
    assert strong.loc["angry", "pitch (st)"] == pytest.approx(synth.STRONG_FACTOR * normal.loc["angry", "pitch (st)"])
    assert normal.loc["surprised", "contour"] == "? 60% / ! 40%"


def test_docstring_table_matches_the_rules():
    rows = re.findall(r"^([a-z]+)\s+([-+\d. ]+?)\s{2,}[.!?,]", synth.__doc__, flags=re.M)
    table = {name: [float(v) for v in values.split()] for name, values in rows if name in synth.EMOTION_RULES}
    assert set(table) == set(synth.EMOTION_RULES)
    for emotion, values in table.items():
        rule = synth.EMOTION_RULES[emotion]
        assert values == pytest.approx([rule[c] for c in synth.RULE_COLUMNS]), emotion
        assert abs(sum(rule["contour"].values()) - 1) < 1e-9


def test_private_espeak_data_is_a_partial_copy():
    data = synth._data_dir() / "espeak-ng-data"
    assert (data / "phontab").is_file() and (data / "en_dict").is_file()
    assert not (data / "fr_dict").exists()
    assert os.path.commonpath([data, synth._data_dir()]) == str(synth._data_dir())
