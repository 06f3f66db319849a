from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from course_utils.base import jupyter
from course_utils.data import audio
from course_utils.data.atomic import atomic_path, write_text_atomic

from conftest import tone


def test_load_resamples_and_mixes_to_mono(tmp_path):
    path = tmp_path / "st.wav"
    audio.write_wav_atomic(path, tone(1.0, 48_000, 440.0, channels=2), 48_000)
    y, sr = audio.load_audio(path)
    assert sr == audio.COURSE_SR == 22_050
    assert y.dtype == np.float32 and y.ndim == 1 and abs(len(y) - 22_050) <= 1
    # the 440 Hz tone survives resampling: the spectrum peaks at 440 Hz
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * sr / len(y) - 440) < 2
    both, sr2 = audio.load_audio(path, sr=None, mono=False)
    assert sr2 == 48_000 and both.shape == (2, 48_000)


def test_load_names_unreadable_file(tmp_path):
    bad = tmp_path / "03-01-01-01-01-01-01.wav"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="03-01-01-01-01-01-01.wav.*Fix"):
        audio.load_audio(bad)


def test_trim_and_fix_length():
    sr = 22_050
    y = tone(1.0, sr, 300.0, pad=0.5)
    trimmed, (start, end) = audio.trim_silence(y, top_db=30)
    assert abs(len(trimmed) / sr - 1.0) < 0.1 and abs(start / sr - 0.5) < 0.1
    assert len(audio.fix_length(trimmed, 3 * sr)) == 3 * sr
    cropped = audio.fix_length(np.arange(10.0), 4)
    assert list(cropped) == [3.0, 4.0, 5.0, 6.0]  # centred crop
    padded = audio.fix_length(np.ones(3), 6)
    assert list(padded) == [0, 1, 1, 1, 0, 0]
    out = audio.preprocess(y, sr, duration=0.5)
    assert len(out) == sr // 2 and np.abs(out).min() < 1 and np.abs(out).max() > 0.4


def test_write_wav_atomic_is_16_bit_and_leaves_nothing_on_error(tmp_path):
    p = audio.write_wav_atomic(tmp_path / "a" / "x.wav", tone(0.1), 48_000)
    info = sf.info(str(p))
    assert info.subtype == "PCM_16" and info.samplerate == 48_000
    with pytest.raises(Exception):
        audio.write_wav_atomic(tmp_path / "a" / "y.wav", np.zeros((10, 2, 2)), 48_000)
    assert sorted(f.name for f in (tmp_path / "a").iterdir()) == ["x.wav"]


def test_atomic_path_keeps_old_file_on_failure(tmp_path):
    target = write_text_atomic(tmp_path / "t.txt", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old" and [f.name for f in tmp_path.iterdir()] == ["t.txt"]


def test_trimmed_durations_finds_the_tone_and_caches(wav_meta, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")
    capsys.readouterr()
    table = audio.trimmed_durations(wav_meta, cache_dir=tmp_path / "c", n_jobs=1)
    err = capsys.readouterr().err  # a bar over the files
    assert "trimming" in err and "3/3" in err and err.count("\n") == 1
    uncached = audio.trimmed_durations(wav_meta, cache_dir=tmp_path / "other", n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(uncached, table)  # same rows in the same order from two processes
    assert capsys.readouterr().err == ""
    assert table["filename"].tolist() == [Path(p).name for p in wav_meta["path"]]
    np.testing.assert_allclose(table["duration"], [1.4, 1.6, 1.8], atol=1e-3)
    # librosa trims whole frames (2048 samples, hop 512): the tone is kept within about one frame
    np.testing.assert_allclose(table["start"], 0.4, atol=0.1)
    np.testing.assert_allclose(table["trimmed"], [0.6, 0.8, 1.0], atol=0.15)
    np.testing.assert_allclose(table["trimmed"], table["end"] - table["start"])
    assert len(list((tmp_path / "c").glob("trim-*-3.csv"))) == 1

    def no_work(*args):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(audio, "_trim_one", no_work)
    pd.testing.assert_frame_equal(audio.trimmed_durations(wav_meta, cache_dir=tmp_path / "c", n_jobs=1), table)
    with pytest.raises(AssertionError, match="recomputed"):  # another top_db is another cache entry
        audio.trimmed_durations(wav_meta, top_db=20, cache_dir=tmp_path / "c", n_jobs=1)


def test_crop_pad_table():
    table = audio.crop_pad_table([1.0, 2.0, 3.0, 4.0], [2.5, 2.0, 5.0])
    first = table.iloc[0].to_dict()
    assert first == dict(length_s=2.5, cropped=0.5, padded=0.5, mean_cut_s=1.0, mean_pad_s=1.0, speech_lost=0.2)
    second = table.iloc[1]  # a clip exactly as long as the target is neither cropped nor padded
    assert second["cropped"] == 0.5 and second["padded"] == 0.25 and second["mean_pad_s"] == 1.0
    last = table.iloc[2]
    assert last["cropped"] == 0.0 and last["mean_cut_s"] == 0.0 and last["speech_lost"] == 0.0 and last["padded"] == 1.0
    nothing_padded = audio.crop_pad_table([3.0], [1.0]).iloc[0]
    assert nothing_padded["mean_pad_s"] == 0.0 and nothing_padded["mean_cut_s"] == 2.0
    with pytest.raises(ValueError, match="no trimmed lengths"):
        audio.crop_pad_table([], [2.5])


def test_atomic_files_get_the_usual_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        p = write_text_atomic(tmp_path / "shared.txt", "x")
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644  # readable by a whole class, not private (0600)


def test_files_fingerprint_notices_replaced_files(tmp_path):
    import os

    from course_utils.base import paths

    f = tmp_path / "a.wav"
    f.write_bytes(b"1234")
    first = paths.files_fingerprint([f], "x")
    assert paths.files_fingerprint([f], "x") == first != paths.files_fingerprint([f], "y")
    f.write_bytes(b"5678")  # same name and size, new content
    os.utime(f, ns=(1, 1))
    assert paths.files_fingerprint([f], "x") != first
