"""Layer 3, learning from sound: input pipelines (``06``), the baseline (``07``), the study's networks
and their training (``08``-``12``), diagnosis, augmentation (``10``), transfer (``11``), embeddings
(``12``), multi-task networks (``13``), raw-waveform networks (``14``), uncertainty (``15``), the
emotion network and its explorer (``16``, ``17``). Imports only the layers below.
"""
