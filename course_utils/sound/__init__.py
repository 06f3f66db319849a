"""Layer 2, sound: tones and sampling (:mod:`~course_utils.sound.signals`, ``01``), spectra and f0
(:mod:`~course_utils.sound.spectrum`, ``02``), the STFT (:mod:`~course_utils.sound.spectrogram`, ``03``),
the Mel scale (:mod:`~course_utils.sound.mel`, ``04``), the corpus's acoustics
(:mod:`~course_utils.sound.eda`, ``05``), log-Mel images (:mod:`~course_utils.sound.features`, ``06``),
eGeMAPS (:mod:`~course_utils.sound.egemaps`, ``07``) and the figures with players
(:mod:`~course_utils.sound.plots`). Imports only the layers below.
"""
