import numpy as np
import pytest
import soundfile as sf

from course_utils import audio
from course_utils.atomic import atomic_path, write_text_atomic

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
