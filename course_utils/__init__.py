"""course_utils: the shared helpers of the course "Deep Learning for Audio Signals".

One small module per idea, in the style of FMP's ``libfmp`` and d2l's ``d2l``; each helper's
docstring names the notebook that teaches it.

- :mod:`course_utils.paths`     where data, cache and build products live
- :mod:`course_utils.metadata`  RAVDESS file names and the metadata table (notebook 00)
- :mod:`course_utils.download`  getting RAVDESS (pooch, checksums, RAVDESS_DIR)   (notebook 00)
- :mod:`course_utils.synth`     the offline RAVDESS-compatible corpus (espeak-ng) (notebook 00)
- :mod:`course_utils.datasets`  choosing a dataset: real RAVDESS or the offline corpus
- :mod:`course_utils.audio`     audio I/O, trimming, fixed length                  (01, 06)
- :mod:`course_utils.features`  log-Mel images and the on-disk feature cache        (04, 06)
- :mod:`course_utils.splits`    stratified and actor-held-out splits                (06)
- :mod:`course_utils.pipeline`  tf.data input pipelines                             (06)
- :mod:`course_utils.baseline`  clip statistics of MFCCs + a scikit-learn classifier (07)
- :mod:`course_utils.results`   metrics files and the results table                 (every notebook)
- :mod:`course_utils.runner`    running the notebooks headless with papermill
"""

__version__ = "0.1.0"
