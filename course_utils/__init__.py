"""course_utils: the shared helpers of the course "Deep Learning for Audio Signals".

One small module per idea, in the style of FMP's ``libfmp`` and d2l's ``d2l``; each helper's
docstring names the notebook that teaches it.

- :mod:`course_utils.paths`     where data, cache and build products live
- :mod:`course_utils.metadata`  RAVDESS file names and the metadata table (notebook 00)
- :mod:`course_utils.download`  getting RAVDESS (pooch, checksums, RAVDESS_DIR)   (notebook 00)
- :mod:`course_utils.synth`     the offline RAVDESS-compatible corpus (espeak-ng) (notebook 00)
- :mod:`course_utils.datasets`  choosing a dataset: real RAVDESS or the offline corpus
- :mod:`course_utils.audio`     audio I/O, trimming, fixed length                  (01, 06)
- :mod:`course_utils.signals`   tones, sampling, aliasing, quantisation            (01)
- :mod:`course_utils.spectrum`  FFT spectra, leakage, harmonics, f0 with pyin      (02)
- :mod:`course_utils.spectrogram` the STFT, window trade-off, speech regions        (03)
- :mod:`course_utils.mel`       the Mel scale, filter bank, log-Mel, MFCCs          (04)
- :mod:`course_utils.eda`       per-clip acoustics, group summaries, EDA figures    (05)
- :mod:`course_utils.features`  log-Mel images and the on-disk feature cache        (04, 06)
- :mod:`course_utils.splits`    stratified, actor-held-out and by-field splits      (06)
- :mod:`course_utils.pipeline`  tf.data input pipelines                             (06)
- :mod:`course_utils.benchmark` PNG trees, reader throughput, cache timing          (06)
- :mod:`course_utils.baseline`  clip statistics of MFCCs + a scikit-learn classifier (06, 07)
- :mod:`course_utils.study`     the study's results, parameter counts and split, as data (07, 99)
- :mod:`course_utils.models`    the study's Keras 3 models: CNN, autoencoder, FFNN, VGG16 (08-12)
- :mod:`course_utils.training`  seeded training with the best validation weights, evaluation (08-12)
- :mod:`course_utils.diagnosis` per-class scores, large confusion matrices, who is confused (09)
- :mod:`course_utils.augment`   study image augmentation, SpecAugment, waveform copies (10)
- :mod:`course_utils.transfer`  VGG16 weights status, preprocessing, frozen features, cost (11)
- :mod:`course_utils.embeddings` autoencoder codes, reconstructions, 2-D maps, k-NN    (12)
- :mod:`course_utils.summary`   every accuracy beside the baseline, the study and chance (99)
- :mod:`course_utils.bench`     ``make bench``: features and models, course vs study's way
- :mod:`course_utils.plots`     waveforms with players, log-Mel images              (every notebook)
- :mod:`course_utils.results`   metrics files and the results table                 (every notebook)
- :mod:`course_utils.runner`    running the notebooks headless with papermill
- :mod:`course_utils.atomic`    write to a temporary file, then rename
- :mod:`course_utils.multitask` one trunk, four heads, against single-task networks (13)
- :mod:`course_utils.waveform_nets` M5 and SampleCNN on the raw waveform             (14)
- :mod:`course_utils.uncertainty` Bayesian CNN, MC dropout, entropy, calibration     (15)
- :mod:`course_utils.emotion_net` a compact modern emotion CNN, mixup, actor folds   (16)
- :mod:`course_utils.interactive` slider explorers and the clip classifier (01, 03, 04, 16)
- :mod:`course_utils.warmup`    filling the feature caches ahead of a class (Binder's postBuild)
- :mod:`course_utils.seeds`     one notebook over several seeds; the docs' generated tables
- :mod:`course_utils.site`      ``make site``: the course website from the executed notebooks
"""

__version__ = "0.1.0"
