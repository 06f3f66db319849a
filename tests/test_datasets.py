
import pytest

from course_utils.data import datasets, download

pytestmark = pytest.mark.slow


@pytest.fixture
def data_with_corpus(tmp_path, synthetic_root, monkeypatch):
    """A fresh data folder whose synthetic/ is the session's corpus (no regeneration)."""
    monkeypatch.delenv("RAVDESS_DIR", raising=False)
    (tmp_path / "synthetic").symlink_to(synthetic_root, target_is_directory=True)
    return tmp_path


def test_unknown_choice():
    with pytest.raises(ValueError, match="auto, ravdess, synthetic"):
        datasets.resolve("kaggle")


def test_synthetic_and_quick_subset(data_with_corpus):
    ds = datasets.resolve("synthetic", dest=data_with_corpus, progress=False)
    assert ds.name == "synthetic" and "synthetic" in ds.description
    full = ds.metadata()
    quick = ds.metadata(quick=True)
    assert len(full) == 1440 and len(quick) == 360
    assert sorted(quick["actor"].unique()) == [1, 2, 3, 4, 5, 6]


def test_auto_without_ravdess_falls_back_loudly(data_with_corpus, capsys):
    ds = datasets.resolve("auto", dest=data_with_corpus, progress=False)
    assert ds.name == "synthetic"
    assert "OFFLINE SYNTHETIC" in capsys.readouterr().out


def test_auto_falls_back_when_the_download_fails(data_with_corpus, capsys, monkeypatch):
    monkeypatch.setenv("RAVDESS_URL", "http://127.0.0.1:9/Audio_Speech_Actors_01-24.zip")
    ds = datasets.resolve("auto", dest=data_with_corpus, download_ok=True, progress=False)
    out = capsys.readouterr().out
    assert ds.name == "synthetic" and "could not be downloaded" in out and "OFFLINE SYNTHETIC" in out


def test_ravdess_never_falls_back(data_with_corpus, monkeypatch):
    monkeypatch.setenv("RAVDESS_URL", "http://127.0.0.1:9/Audio_Speech_Actors_01-24.zip")
    with pytest.raises(download.DownloadError):
        datasets.resolve("ravdess", dest=data_with_corpus, progress=False)
    assert not (data_with_corpus / "ravdess").exists()


def test_partial_real_copy_is_used_with_a_warning(shared_sample, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAVDESS_DIR", str(shared_sample))
    for choice in ("auto", "ravdess"):
        ds = datasets.resolve(choice, dest=tmp_path, progress=False)
        assert ds.name == "ravdess" and ds.root == shared_sample
        assert "PARTIAL copy of RAVDESS" in capsys.readouterr().out
    assert len(ds.metadata(quick=True)) == 120  # only actors 1 and 2 exist


def test_quick_subset_of_other_actors():
    import pandas as pd

    from course_utils.data import metadata as md

    meta = pd.DataFrame([md.parse_filename(n).as_dict() for n in md.expected_filenames([11, 12, 13])])
    assert sorted(datasets.quick_subset(meta)["actor"].unique()) == [11, 12, 13]
