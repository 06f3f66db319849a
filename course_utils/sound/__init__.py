"""Layer 2, sound: what a recording holds, measured and drawn.

One module per idea, with the chapter that teaches it: tones, sampling and quantisation
(:mod:`~course_utils.sound.signals`, ``01_sound_and_sampling``), spectra, harmonics and f0
(:mod:`~course_utils.sound.spectrum`, ``02_spectrum``), the STFT and the spectrogram
(:mod:`~course_utils.sound.spectrogram`, ``03_spectrogram``), the Mel scale, Mel filter banks and
MFCCs (:mod:`~course_utils.sound.mel`, ``04_mel_scale``), the corpus's acoustics
(:mod:`~course_utils.sound.eda`, ``05_eda``), the log-Mel images the networks learn from
(:mod:`~course_utils.sound.features`, ``04_mel_scale`` and ``06_preprocessing``) and eGeMAPS
(:mod:`~course_utils.sound.egemaps`, ``07_classical_baseline``); beside them the figures and
players most chapters use (:mod:`~course_utils.sound.plots`) and librosa's compiled code, cached
once after an install (:mod:`~course_utils.sound.numba_cache`, ``00_getting_the_data``).
Imports only the layers below.
"""
