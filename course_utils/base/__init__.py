"""Layer 0, what every other layer needs: live or headless (:mod:`~course_utils.base.jupyter`:
progress bars, sliders, message boxes), the course's errors (:mod:`~course_utils.base.errors`),
where data, cache and build products live (:mod:`~course_utils.base.paths`) and TensorFlow
imported without its start-up noise (:mod:`~course_utils.base.quiet`). Imports no other layer.
"""
