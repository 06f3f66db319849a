"""Layer 4, the course around the chapters: the parameter check of every parameters cell
(:mod:`~course_utils.course.params`), what a chapter records (:mod:`~course_utils.course.results`), the
sentences generated from its numbers (:mod:`~course_utils.course.phrases`), the study's numbers as
data (:mod:`~course_utils.course.study`) and chapter 99's summary (:mod:`~course_utils.course.summary`).
"""
