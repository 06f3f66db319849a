"""Tests of course_utils.learning.embeddings: codes, reconstructions, 2-D maps and code-space measures."""

from __future__ import annotations

import keras
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from course_utils.base import jupyter
from course_utils.sound import features
from course_utils.learning import embeddings, models
from course_utils.sound.features import FeatureConfig

CFG = FeatureConfig(image_size=(32, 32), duration=0.5)


@pytest.fixture(scope="module")
def tiny_autoencoder():
    return models.study_autoencoder((32, 32, 1), latent=8, seed=0)


def clustered(n_per=20, n_classes=3, dim=6, spread=0.2, seed=0):
    """Codes in tight, well separated clusters (one per class) and their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=5.0, size=(n_classes, dim))
    labels = np.repeat(np.arange(n_classes), n_per)
    return centres[labels] + spread * rng.normal(size=(len(labels), dim)), labels


# --------------------------------------------------------------------------- data and codes
def test_autoencoder_dataset_pairs_input_with_itself():
    images = np.random.default_rng(0).random((5, 16, 16)).astype(np.float32)
    batches = list(embeddings.autoencoder_dataset(images, batch_size=2))
    assert [b[0].shape[0] for b in batches] == [2, 2, 1]
    x, y = batches[0]
    assert x.shape == (2, 16, 16, 1)
    np.testing.assert_array_equal(x.numpy(), y.numpy())
    np.testing.assert_allclose(x.numpy()[..., 0], images[:2])


def test_code_dataset_shuffles_reproducibly_and_checks_shapes():
    codes = np.arange(40, dtype=np.float32).reshape(20, 2)
    labels = np.arange(20)

    def order(seed):
        return np.concatenate([y.numpy() for _, y in embeddings.code_dataset(codes, labels, batch_size=8, shuffle=True, seed=seed)])

    plain = np.concatenate([y.numpy() for _, y in embeddings.code_dataset(codes, labels, batch_size=8)])
    np.testing.assert_array_equal(plain, labels)
    assert sorted(order(1)) == list(labels) and not np.array_equal(order(1), labels)
    np.testing.assert_array_equal(order(1), order(1))
    x, y = next(iter(embeddings.code_dataset(codes, labels, batch_size=8)))
    np.testing.assert_array_equal(x.numpy()[:, 0], 2 * y.numpy())  # codes stay with their labels
    with pytest.raises(ValueError, match="one label each"):
        embeddings.code_dataset(codes, labels[:5])
    with pytest.raises(ValueError, match="one label each"):
        embeddings.code_dataset(codes.reshape(20, 2, 1), labels)


def test_encode_and_reconstruct_shapes(tiny_autoencoder):
    autoencoder, encoder = tiny_autoencoder
    images = np.random.default_rng(1).random((3, 32, 32)).astype(np.float32)
    codes = embeddings.encode(encoder, images)
    assert codes.shape == (3, 8) and codes.dtype == np.float32
    np.testing.assert_allclose(codes, embeddings.encode(encoder, images[..., None]), rtol=1e-5)
    out = embeddings.reconstruct(autoencoder, images)
    assert out.shape == (3, 32, 32) and out.min() >= 0 and out.max() <= 1  # sigmoid output
    with pytest.raises(ValueError, match="images must have shape"):
        embeddings.encode(encoder, images[0, 0])


def test_reconstruction_errors_is_the_mse_per_image():
    x = np.zeros((2, 4, 4))
    y = np.zeros((2, 4, 4))
    y[0] = 0.5
    y[1, 0, 0] = 1.0
    np.testing.assert_allclose(embeddings.reconstruction_errors(x, y), [0.25, 1 / 16])
    np.testing.assert_allclose(embeddings.reconstruction_errors(x, x), [0, 0])
    with pytest.raises(ValueError, match="differ in shape"):
        embeddings.reconstruction_errors(x, y[:1])


def test_error_profile_locates_the_error():
    x = np.zeros((3, 4, 5))
    y = x.copy()
    y[:, 1, :] = 1.0  # every clip wrong in Mel band 1 only
    mel = embeddings.error_profile(x, y, "mel")
    np.testing.assert_allclose(mel, [0, 1, 0, 0])
    np.testing.assert_allclose(embeddings.error_profile(x, y, "time"), np.full(5, 0.25))
    assert mel.mean() == pytest.approx(embeddings.reconstruction_errors(x, y).mean())
    with pytest.raises(ValueError, match="axis"):
        embeddings.error_profile(x, y, "frequency")
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        embeddings.error_profile(x[0], y[0])


def test_pca_reconstruction_is_exact_for_images_in_the_span_and_clipped():
    rng = np.random.default_rng(2)
    basis = rng.random((3, 8, 8)) * 0.3
    weights = rng.random((30, 3))
    train = np.einsum("nk,khw->nhw", weights, basis)
    test = np.einsum("nk,khw->nhw", rng.random((4, 3)), basis)
    rebuilt = embeddings.pca_reconstruction(train, test, n_components=3)
    np.testing.assert_allclose(rebuilt, test, atol=1e-4)
    one = embeddings.pca_reconstruction(train, test, n_components=1)
    assert embeddings.reconstruction_errors(test, one).mean() > 1e-4  # one component is not enough
    assert embeddings.pca_reconstruction(train * 10, test * 10, n_components=500).max() <= 1.0  # clipped; n capped


def test_image_to_audio_gives_a_signal_of_the_clip_length():
    img = np.zeros((32, 32), dtype=np.float32)
    img[4:8, :] = 1.0  # one loud low band all the time
    y = features.image_to_audio(img, CFG, n_iter=4)
    n = int(round(CFG.duration * CFG.sample_rate))
    assert len(y) == n and np.max(np.abs(y)) == pytest.approx(0.9, abs=1e-6)
    np.testing.assert_array_equal(y, features.image_to_audio(img, CFG, n_iter=4))  # seeded phase
    assert not np.any(features.image_to_audio(np.zeros((32, 32)), CFG, n_iter=2) > 1.0)
    with pytest.raises(ValueError, match="2-D"):
        features.image_to_audio(np.zeros((1, 32, 32)), CFG)


def test_layer_table_counts_every_parameter(tiny_autoencoder):
    autoencoder, _ = tiny_autoencoder
    table = embeddings.layer_table(autoencoder)
    assert table["parameters"].sum() == autoencoder.count_params()
    assert table["share (%)"].sum() == pytest.approx(100, abs=0.1)
    row = table.set_index("layer").loc["code"]
    assert row["kind"] == "Dense" and row["output shape"] == "8" and row["parameters"] == (2 * 2 * 16 + 1) * 8
    assert table.set_index("layer").loc["enc_conv1", "output shape"] == "32 x 32 x 32"
    empty = keras.Sequential([keras.Input((3,)), keras.layers.Flatten()])
    assert embeddings.layer_table(empty)["share (%)"].tolist() == [0.0]


# --------------------------------------------------------------------------- code space
def test_explained_variance_and_pca_projection():
    rng = np.random.default_rng(3)
    codes = np.c_[10 * rng.normal(size=100), rng.normal(size=100), 0.1 * rng.normal(size=(100, 3))]
    ratio = embeddings.explained_variance(codes)
    assert len(ratio) == 5 and ratio.sum() == pytest.approx(1) and ratio[0] > 0.9
    assert len(embeddings.explained_variance(codes, 2)) == 2
    pts = embeddings.project_2d(codes, "pca")
    assert pts.shape == (100, 2)
    assert abs(np.corrcoef(pts[:, 0], codes[:, 0])[0, 1]) > 0.99  # PC 1 follows the widest axis


def test_tsne_keeps_clusters_apart_and_is_seeded(monkeypatch, capsys):
    monkeypatch.setenv(jupyter.HEADLESS_ENV, "1")
    codes, labels = clustered(n_per=12, n_classes=3)
    capsys.readouterr()
    pts = embeddings.project_2d(codes, "tsne", seed=0)
    err = capsys.readouterr().err  # t-SNE reports nothing itself: a one-step bar, drawn when it starts and ends
    assert err.startswith("\rt-SNE of 36 codes") and "0/1" in err and "1/1" in err and err.count("\n") == 1
    assert pts.shape == (36, 2)
    np.testing.assert_array_equal(pts, embeddings.project_2d(codes, "tsne", seed=0, progress=False))
    embeddings.project_2d(codes, "pca")
    assert capsys.readouterr().err == ""  # PCA is quick: no bar
    assert embeddings.knn_accuracy(pts, labels, k=3) == 1.0  # neighbours stay neighbours
    assert embeddings.project_2d(codes[:5], "tsne").shape == (5, 2)  # perplexity lowered for few codes
    with pytest.raises(ValueError, match="method"):
        embeddings.project_2d(codes, "umap")
    with pytest.raises(ValueError, match="N >= 3"):
        embeddings.project_2d(codes[:2], "pca")


def test_knn_accuracy_separates_structure_from_noise():
    codes, labels = clustered()
    assert embeddings.knn_accuracy(codes, labels) == 1.0
    noise = np.random.default_rng(4).normal(size=codes.shape)
    assert embeddings.knn_accuracy(noise, labels, seed=0) < 0.7
    raw = embeddings.knn_accuracy(codes, labels, standardize=False)
    assert raw == 1.0
    # more folds than a class has members: fewer folds are used
    assert embeddings.knn_accuracy(codes[:8], np.array([0] * 3 + [1] * 5), folds=10, k=1) >= 0
    with pytest.raises(ValueError, match="two classes"):
        embeddings.knn_accuracy(codes, np.zeros(len(codes)))
    with pytest.raises(ValueError, match="labels"):
        embeddings.knn_accuracy(codes, labels[:-1])


def test_knn_accuracy_with_groups_needs_neighbours_from_other_groups():
    """A label that only the group (speaker) explains is found with random folds, not across groups."""
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(6), 20)
    speaker = rng.normal(scale=5.0, size=(6, 4))[groups]
    labels = np.tile(np.repeat([0, 1], 10), 6)  # half of each speaker's clips in each class
    codes = speaker + 0.05 * rng.normal(size=speaker.shape)
    codes[:, 0] += 0.3 * labels  # a small class cue, tiny next to the speaker
    within = embeddings.knn_accuracy(codes, labels, k=3)
    across = embeddings.knn_accuracy(codes, labels, k=3, groups=groups)
    assert within > 0.9 and across < within
    with pytest.raises(ValueError, match="groups"):
        embeddings.knn_accuracy(codes, labels, groups=groups[:-1])
    with pytest.raises(ValueError, match="two groups"):
        embeddings.knn_accuracy(codes, labels, groups=np.zeros(len(codes)))


def test_code_space_table_ranks_the_organising_attribute():
    codes, labels = clustered(n_per=20, n_classes=4)
    rng = np.random.default_rng(6)
    groups = np.tile(np.arange(8), 10)  # eight "speakers", spread over the clusters
    table = embeddings.code_space_table(
        codes, {"cluster": labels, "noise": rng.integers(0, 2, len(labels)), "speaker": groups}, groups=groups, k=3
    )
    assert list(table.columns) == ["classes", "chance", "knn", "knn_gain", "knn_other_groups", "silhouette"]
    assert table.loc["cluster", "knn"] == 1.0 and table.loc["cluster", "knn_gain"] == 1.0
    assert table.loc["cluster", "silhouette"] > 0.6 > 0.1 > table.loc["noise", "silhouette"]
    assert table.loc["noise", "knn_gain"] < 0.5
    assert table.loc["cluster", "knn_other_groups"] == 1.0
    assert np.isnan(table.loc["speaker", "knn_other_groups"])  # each class is one group
    assert table.loc["speaker", "classes"] == 8 and table.loc["speaker", "chance"] == pytest.approx(1 / 8)
    few = embeddings.code_space_table(codes, {"cluster": labels}, groups=labels % 2, k=3)
    assert np.isnan(few.loc["cluster", "knn_other_groups"])  # fewer than min_groups groups
    assert np.isnan(embeddings.code_space_table(codes, {"cluster": labels}).loc["cluster", "knn_other_groups"])


# --------------------------------------------------------------------------- figures
def test_plot_reconstructions_layout_and_labels():
    rng = np.random.default_rng(7)
    x = rng.random((2, 32, 32)).astype(np.float32)
    fig = embeddings.plot_reconstructions(x, x * 0.5, ["clip a", "clip b"], CFG)
    image_axes = [ax for ax in fig.axes if ax.get_images()]
    assert len(image_axes) == 6
    assert image_axes[0].get_ylabel() == "frequency (Hz, Mel scale)"
    assert image_axes[-1].get_xlabel() == "time (s)" and image_axes[0].get_xlabel() == ""
    assert "clip a: input" in image_axes[0].get_title() and "MSE" in image_axes[2].get_title()
    assert image_axes[0].get_images()[0].get_extent()[1] == CFG.duration
    labels = [ax.get_ylabel() for ax in fig.axes if not ax.get_images()]
    assert any("dB" in lab for lab in labels)  # colour bars carry units
    with pytest.raises(ValueError, match="titles"):
        embeddings.plot_reconstructions(x, x, ["one"], CFG)
    with pytest.raises(ValueError, match="both be"):
        embeddings.plot_reconstructions(x, x[:1], ["a", "b"], CFG)


def test_plot_error_profile_axes():
    prof = {"model": np.linspace(1, 2, 32), "other": np.ones(32)}
    ax = embeddings.plot_error_profile(prof, CFG, axis="mel")
    assert ax.get_xlabel() == "frequency (Hz, Mel scale)" and ax.get_yscale() == "log" and len(ax.get_lines()) == 2
    _, ax2 = plt.subplots()
    embeddings.plot_error_profile(prof, CFG, axis="time", ax=ax2)
    assert ax2.get_xlabel() == "time (s)"
    assert ax2.get_lines()[0].get_xdata().max() < CFG.duration
    with pytest.raises(ValueError, match="axis"):
        embeddings.plot_error_profile(prof, CFG, axis="both")


def test_plot_codes_2d_colours_markers_and_legends():
    rng = np.random.default_rng(8)
    actors = np.repeat(np.arange(1, 25), 3)
    sex = np.where(actors % 2, "male", "female")
    pts = rng.normal(size=(len(actors), 2))
    ax = embeddings.plot_codes_2d(pts, [f"{a:02d}" for a in actors], "by actor", markers=sex,
                                  marker_title="sex", xlabel="PC 1 (%)", ylabel="PC 2 (%)")
    assert ax.get_xlabel() == "PC 1 (%)" and ax.get_title() == "by actor"
    colours = {tuple(c.get_facecolor()[0]) for c in ax.collections}
    assert len(ax.collections) == 24 and len(colours) == 24  # 24 distinct qualitative colours
    colour_legend = ax.artists[0] if ax.artists else None
    assert colour_legend is not None and len(colour_legend.get_texts()) == 24
    assert colour_legend._ncols == 2
    assert ax.get_legend().get_title().get_text() == "sex"
    handles = {t.get_text(): h.get_marker() for t, h in zip(colour_legend.get_texts(), colour_legend.legend_handles)}
    assert handles["01"] != handles["02"]  # an actor's legend entry shows its sex's marker

    _, ax2 = plt.subplots()
    embeddings.plot_codes_2d(pts[:6], ["b", "a", "b", "a", "c", "c"], "few", ax=ax2, order=["c", "b", "a"])
    assert [t.get_text() for t in ax2.get_legend().get_texts()] == ["c", "b", "a"]
    _, ax3 = plt.subplots()
    embeddings.plot_codes_2d(pts[:6], list("aabbcc"), "no legend", ax=ax3, legend=False)
    assert ax3.get_legend() is None and ax3.get_ylabel() == "dimension 2 (no unit)"
    with pytest.raises(ValueError, match="points must be"):
        embeddings.plot_codes_2d(pts[:, :1], actors, "bad")
    with pytest.raises(ValueError, match="at most"):
        embeddings.plot_codes_2d(rng.normal(size=(61, 2)), np.arange(61), "too many")


def test_palette_sizes():
    assert len(embeddings._palette(8)) == 8
    assert len(set(embeddings._palette(20))) == 20
    assert isinstance(pd.Series(embeddings._palette(3)).iloc[0], tuple)
