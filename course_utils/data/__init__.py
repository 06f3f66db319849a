"""Layer 1, the data: RAVDESS file names and the metadata table (:mod:`~course_utils.data.metadata`),
the download (:mod:`~course_utils.data.download`), the offline corpus (:mod:`~course_utils.data.synth`),
choosing a dataset (:mod:`~course_utils.data.datasets`), splits (:mod:`~course_utils.data.splits`),
audio I/O (:mod:`~course_utils.data.audio`), and one cache (:mod:`~course_utils.data.cache`) and
atomic-file mechanism (:mod:`~course_utils.data.atomic`). Taught in ``00_getting_the_data`` and
``06_preprocessing``. Imports only :mod:`course_utils.base`.
"""
