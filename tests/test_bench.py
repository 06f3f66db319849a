"""course_utils.tools.bench: the measurements behind `make bench`."""

import json

import numpy as np
import pandas as pd
import pytest

from course_utils.course import summary
from course_utils.tools import bench, cli


@pytest.fixture(scope="module")
def tiny_meta(synthetic_root):
    from course_utils.data import metadata

    meta = metadata.build_metadata(synthetic_root)
    return meta[meta["actor"].isin([1, 2])].head(12).reset_index(drop=True)


TINY = bench.BenchSettings(side=32, train_steps=3, infer_steps=1, warmup=1, vgg_steps=1, n_train=100, n_val=20,
                           n_jobs=1, batch_size=4)


@pytest.mark.parametrize("name, classes", [("cnn_binary", 2), ("cnn_actor", 24), ("cnn_emotion", 8), ("autoencoder", None)])
def test_build_model_heads(name, classes):
    model, n = bench.build_model(name, 32)
    assert n == classes
    assert model.optimizer is not None  # compiled
    assert model.output_shape[-1] == {2: 1, 24: 24, 8: 8, None: 1}[classes]


def test_build_model_refuses_unknown_names():
    with pytest.raises(ValueError, match="unknown model"):
        bench.build_model("resnet", 32)


def test_run_bench_in_process(tiny_meta, tmp_path):
    out = tmp_path / "bench.json"
    lines = []
    payload = bench.run_bench(tiny_meta, "synthetic", settings=TINY, model_names=("cnn_binary", "autoencoder"),
                              output=out, isolate=False, mode="quick", progress=lines.append)
    assert json.loads(out.read_text()) == json.loads(json.dumps(payload))
    assert payload["files"] == 12 and payload["settings"]["side"] == 32
    assert len(payload["features"]) == 4
    feats = pd.DataFrame(payload["features"])
    assert (feats["files"] == 12).all() and (feats["files_per_s"] > 0).all()
    # the cold run computes, the cached run reads: reading back must be faster
    assert feats["seconds"].iloc[1] < feats["seconds"].iloc[0]
    rows = pd.DataFrame(payload["models"])
    assert set(zip(rows["model"], rows["reader"])) == {(m, r) for m in ("cnn_binary", "autoencoder") for r in bench.READERS}
    assert (rows["train_samples_per_s"] > 0).all() and (rows["infer_samples_per_s"] > 0).all()
    expected = 100 / rows["train_samples_per_s"] + 20 / rows["infer_samples_per_s"]
    assert np.allclose(rows["epoch_s"], expected)
    for row in payload["models"]:  # the reported rate is the median step's: inside the measured range
        low, high = row["train_rate_range"]
        assert low <= row["train_samples_per_s"] <= high
    assert (rows["peak_memory_mb"] > 50).all()
    assert len(lines) == 1 + 4
    feats_t, table = summary.bench_tables(payload)
    assert list(zip(table["model"], table["reader"])) == [
        ("cnn_binary", "course"), ("cnn_binary", "study"), ("autoencoder", "course"), ("autoencoder", "study")]
    study = table[table["reader"] == "study"].set_index("model")["train/s"]
    assert np.allclose(table["speed-up"], table["train/s"] / table["model"].map(study))
    assert np.allclose(table.loc[table["reader"] == "study", "speed-up"], 1.0)
    text = summary.bench_report(payload)
    assert "Features" in text and "speed-up" in text and "32 x 32" in text


def test_measure_model_refuses_unknown_reader(tiny_meta, tmp_path):
    _, tree = bench.measure_features(tiny_meta, "synthetic", str(tmp_path), TINY)
    with pytest.raises(ValueError, match="unknown reader"):
        bench.measure_model("cnn_binary", "pickle", str(tmp_path / "images.npy"), tree, TINY)


def test_isolated_call_runs_in_another_process():
    import os

    assert bench._call(True, os.getpid) != os.getpid()
    assert bench._call(False, os.getpid) == os.getpid()


def test_quick_settings_are_smaller():
    q, f = bench.quick_settings(), bench.BenchSettings()
    assert q.side < f.side and q.train_steps < f.train_steps and f.side == 256 and f.n_train == 1008


def test_cli_bench(monkeypatch, tmp_path, capsys, synthetic_root):
    seen = {}

    def fake_run(meta, name, *, settings, output, mode):
        seen.update(files=len(meta), name=name, side=settings.side, mode=mode)
        return {"dataset": name, "mode": mode, "files": len(meta), "seconds": 1.0,
                "settings": {"side": settings.side, "batch_size": 32, "n_train": 1, "n_val": 1},
                "machine": {"cpus": 2, "gpus": 0, "tensorflow": "x", "keras": "y"},
                "features": [{"step": "s", "files": 1, "seconds": 1.0, "files_per_s": 1.0}],
                "models": [{"model": "cnn_binary", "reader": r, "parameters": 5, "train_samples_per_s": 2.0,
                            "infer_samples_per_s": 4.0, "epoch_s": 1.0, "peak_memory_mb": 1.0} for r in bench.READERS]}

    monkeypatch.setattr(bench, "run_bench", fake_run)
    out = tmp_path / "b.json"
    assert cli.main(["bench", "--dataset", "synthetic", "--data", str(synthetic_root.parent), "--quick", "1",
                     "--output", str(out)]) == 0
    assert seen == {"files": 360, "name": "synthetic", "side": 64, "mode": "quick"}
    assert "speed-up" in capsys.readouterr().out
