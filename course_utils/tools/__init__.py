"""The build tooling, which no notebook imports: the command line (``python -m course_utils``,
:mod:`~course_utils.tools.cli`), running the notebooks (:mod:`~course_utils.tools.runner`), the website
(:mod:`~course_utils.tools.site`), seed sweeps (:mod:`~course_utils.tools.seeds`), the generated parts of
the README and the instructor guide (:mod:`~course_utils.tools.docs`), the cache warm-up
(:mod:`~course_utils.tools.warmup`), ``make bench`` (:mod:`~course_utils.tools.bench`) and the course's
JupyterLab settings (:mod:`~course_utils.tools.lab`). May import every layer; nothing imports it.
"""
