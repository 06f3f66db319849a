from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course_utils.data import metadata as md


def test_parse_example_from_the_study():
    r = md.parse_filename("03-01-06-01-02-01-12.wav")
    assert (r.modality, r.vocal_channel, r.emotion, r.intensity, r.statement, r.repetition, r.actor) == (3, 1, 6, 1, 2, 1, 12)
    assert r.emotion_name == "fearful"
    assert r.statement_text == "Dogs are sitting by the door"
    assert r.sex == "female"
    assert r.modality_name == "audio-only" and r.vocal_channel_name == "speech" and r.intensity_name == "normal"


def test_parse_accepts_paths_and_odd_actors_are_male():
    r = md.parse_filename(Path("/x/Actor_17/03-01-08-02-02-01-17.wav"))
    assert r.sex == "male" and r.actor == 17 and r.emotion_name == "surprised"
    row = r.as_dict()
    assert row["filename"] == "03-01-08-02-02-01-17.wav" and row["sex"] == "male" and row["intensity_name"] == "strong"


@pytest.mark.parametrize(
    "name, reason",
    [
        ("my_recording.wav", "7 two-digit fields"),
        ("03-01-06-01-02-01.wav", "7 two-digit fields"),
        ("03-01-09-01-02-01-12.wav", "emotion is 09"),
        ("03-01-06-03-02-01-12.wav", "intensity is 03"),
        ("03-01-06-01-02-01-25.wav", "actor is 25"),
        ("04-01-06-01-02-01-12.wav", "modality is 04"),
        ("03-01-01-02-01-01-05.wav", "neutral (emotion 01) has no strong"),
        ("03-01-06-01-02-01-12.mp3", "7 two-digit fields"),
    ],
)
def test_parse_rejects_malformed_names(name, reason):
    with pytest.raises(md.RavdessNameError) as err:
        md.parse_filename(name)
    assert name in str(err.value) and reason in str(err.value)


def test_check_filenames_lists_every_bad_name():
    names = ["03-01-06-01-02-01-12.wav", "a.wav", "03-01-09-01-02-01-12.wav"]
    with pytest.raises(md.RavdessNameError) as err:
        md.check_filenames(names)
    text = str(err.value)
    assert "2 file(s)" in text and "a.wav" in text and "03-01-09-01-02-01-12.wav" in text and "Fix:" in text
    assert [r.actor for r in md.check_filenames(names[:1])] == [12]


def test_expected_filenames_have_the_ravdess_counts():
    names = md.expected_filenames()
    assert len(names) == len(set(names)) == 1440
    recs = [md.parse_filename(n) for n in names]
    df = pd.DataFrame([r.as_dict() for r in recs])
    counts = pd.crosstab(df["emotion_name"], df["sex"])
    assert (counts.loc["neutral"] == 48).all()
    assert (counts.drop(index="neutral") == 96).all().all()
    assert df.groupby("actor").size().eq(60).all()
    assert len(md.expected_filenames([3])) == 60


def test_find_wavs_dedupes_kaggle_layout(tmp_path, make_wav_tree):
    names = ["03-01-01-01-01-01-01.wav", "03-01-05-02-01-02-02.wav"]
    make_wav_tree(tmp_path, names)
    make_wav_tree(tmp_path / "audio_speech_actors_01-24", names)
    (tmp_path / "notes.txt").write_text("not audio")
    found = md.find_wavs(tmp_path)
    assert [p.name for p in found] == sorted(names)
    with pytest.raises(FileNotFoundError, match="RAVDESS_DIR"):
        md.find_wavs(tmp_path / "nope")


def test_build_metadata_reads_headers(tmp_path, make_wav_tree):
    make_wav_tree(tmp_path, ["03-01-01-01-01-01-01.wav", "03-01-04-02-02-02-02.wav"], sr=48_000, seconds=0.25)
    make_wav_tree(tmp_path, ["03-01-05-02-01-02-03.wav"], sr=16_000, seconds=0.5, channels=2)
    df = md.build_metadata(tmp_path)
    assert list(df["actor"]) == [1, 2, 3]
    assert list(df["sex"].astype(str)) == ["male", "female", "male"]
    assert list(df["sample_rate"]) == [48_000, 48_000, 16_000]
    assert list(df["channels"]) == [1, 1, 2]
    assert (df["bit_depth"] == 16).all()
    assert np.allclose(df["duration"], [0.25, 0.25, 0.5])
    assert list(df["emotion_name"].astype(str)) == ["neutral", "sad", "angry"]
    assert "duration" not in md.build_metadata(tmp_path, with_audio_info=False)


def test_build_metadata_errors(tmp_path, make_wav_tree):
    with pytest.raises(FileNotFoundError, match="No .wav files"):
        (tmp_path / "empty").mkdir()
        md.build_metadata(tmp_path / "empty")
    make_wav_tree(tmp_path / "a", ["03-01-01-01-01-01-01.wav"])
    (tmp_path / "a" / "Actor_01" / "my_recording.wav").write_bytes(b"RIFF")
    with pytest.raises(md.RavdessNameError, match="my_recording.wav"):
        md.build_metadata(tmp_path / "a")
    make_wav_tree(tmp_path / "b", ["03-01-01-01-01-01-01.wav"])
    bad = tmp_path / "b" / "Actor_02" / "03-01-02-01-01-01-02.wav"
    bad.parent.mkdir()
    bad.write_bytes(b"this is not a wav file")
    with pytest.raises(ValueError, match="03-01-02-01-01-01-02.wav.*delete it"):
        md.build_metadata(tmp_path / "b")


def test_missing_files_and_counts(tmp_path, make_wav_tree):
    names = md.expected_filenames([1])[:-2]
    make_wav_tree(tmp_path, names, seconds=0.05)
    df = md.build_metadata(tmp_path)
    assert md.missing_files(df, actors=[1]) == md.expected_filenames([1])[-2:]
    assert len(md.missing_files(df)) == 1440 - 58
    counts = md.describe_counts(df)
    assert counts.loc["neutral", "male"] == 4 and counts.loc["angry", "female"] == 0


def test_task_labels():
    df = pd.DataFrame([md.parse_filename(n).as_dict() for n in md.expected_filenames([1, 2])])
    y, names = md.task_labels(df, "sex")
    assert set(y) == {0, 1} and names == ["male", "female"] and y[df["actor"].to_numpy() == 2].all()
    y, names = md.task_labels(df, "emotion")
    assert y.min() == 0 and y.max() == 7 and names[0] == "neutral" and len(names) == 8
    y, names = md.task_labels(df, "actor")
    assert set(y) == {0, 1} and len(names) == 24
    y, names = md.task_labels(df, "statement")
    assert set(y) == {0, 1} and names[1].startswith("Dogs")
    with pytest.raises(ValueError, match="unknown task"):
        md.task_labels(df, "age")


def test_one_per_emotion():
    df = pd.DataFrame([md.parse_filename(n).as_dict() for n in md.expected_filenames([2, 3])])
    sel = md.one_per_emotion(df)
    assert list(sel["emotion"]) == list(range(1, 9))
    assert (sel["actor"] == 2).all() and (sel.loc[sel["emotion"] > 1, "intensity"] == 2).all()
    with pytest.raises(ValueError, match="actor 9"):
        md.one_per_emotion(df, actor=9)


def test_is_ravdess_name_and_capped_error_list():
    assert md.is_ravdess_name("/a/03-01-06-01-02-01-12.wav") and not md.is_ravdess_name("x.wav")
    with pytest.raises(md.RavdessNameError) as err:
        md.check_filenames([f"clip{i}.wav" for i in range(50)], max_listed=20)
    text = str(err.value)
    assert "50 file(s)" in text and "clip19.wav" in text and "clip20.wav" not in text and "... and 30 more" in text


def test_find_wavs_follows_symlinked_actor_folders(tmp_path, make_wav_tree):
    make_wav_tree(tmp_path / "store", ["03-01-01-01-01-01-01.wav"])
    (tmp_path / "view").mkdir()
    (tmp_path / "view" / "Actor_01").symlink_to(tmp_path / "store" / "Actor_01", target_is_directory=True)
    assert [p.name for p in md.find_wavs(tmp_path / "view")] == ["03-01-01-01-01-01-01.wav"]
