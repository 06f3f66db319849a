"""course_utils: the shared helpers of the course "Deep Learning for Audio Signals".

One small module per idea, in the style of FMP's ``libfmp`` and d2l's ``d2l``; each helper's
docstring names the chapter that teaches it. The modules are grouped in layers; a layer imports
only the layers below it (``tests/test_layers.py`` fails on an import against that order or on a
cycle), so a chapter's code never depends on a later chapter's:

=========================  ===============================================================================
layer                      what it holds
=========================  ===============================================================================
:mod:`course_utils.base`      live or headless (progress bars, sliders), errors, paths, TensorFlow's start-up noise
:mod:`course_utils.data`      RAVDESS names and metadata, the download, the offline corpus, choosing a dataset,
                              splits, audio I/O, one cache and atomic-file mechanism (chapters 00, 06)
:mod:`course_utils.sound`     signals, spectrum, spectrogram, Mel, EDA, features, figures (01-07)
:mod:`course_utils.learning`  input pipelines, networks, training, augmentation, transfer, multi-task, raw
                              waveform, uncertainty, the emotion network, embeddings, the baseline (06-17)
:mod:`course_utils.course`    the parameter check, what a chapter records, the generated sentences, the
                              study's numbers, the summary of chapter 99
:mod:`course_utils.tools`     build tooling no notebook imports: the command line, the notebook runner, the
                              website, seed sweeps, the generated docs, cache warm-up, ``make bench``
=========================  ===============================================================================

A notebook imports what it teaches, e.g. ``from course_utils.sound import mel, plots``.
"""

__version__ = "0.1.0"
