"""``python -m course_utils ...``: see :mod:`course_utils.cli`."""

from course_utils.cli import main

raise SystemExit(main())
