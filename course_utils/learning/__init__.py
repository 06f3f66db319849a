"""Layer 3, learning from sound: input pipelines (:mod:`~course_utils.learning.pipeline`, ``06``), the
classical baseline (:mod:`~course_utils.learning.baseline`, ``07``), the study's networks and their
training (:mod:`~course_utils.learning.models`, :mod:`~course_utils.learning.training`, ``08``-``12``),
scores beyond one accuracy (:mod:`~course_utils.learning.diagnosis`, ``07``, ``09``), augmentation
(:mod:`~course_utils.learning.augment`, ``10``), transfer learning (:mod:`~course_utils.learning.transfer`,
``11``), an autoencoder's codes (:mod:`~course_utils.learning.embeddings`, ``12``), multi-task networks
(:mod:`~course_utils.learning.multitask`, ``13``), raw-waveform networks
(:mod:`~course_utils.learning.waveform_nets`, ``14``), uncertainty (:mod:`~course_utils.learning.uncertainty`,
``15``), the compact emotion network (:mod:`~course_utils.learning.emotion_net`, ``16``, ``17``) and its
clip classifier (:mod:`~course_utils.learning.classify`, ``16``), saved as one model that takes sound
(:mod:`~course_utils.learning.sound_model`, ``16``). Imports only the layers below.
"""
