"""The command line for teachers: ``python -m course_utils COMMAND``.

==================  ============================================================================
command             what it does
==================  ============================================================================
get-data            get RAVDESS (download and check, or ``$RAVDESS_DIR``) or generate the offline
                    corpus; prints what it did and where
run-notebooks       execute the notebooks headless with papermill into ``build/executed/``
results             gather every notebook's metrics into ``build/results.md``
bench               time features and models, the course's way and the study's; ``build/bench.json``
warm-cache          compute the feature caches the notebooks read (:mod:`course_utils.tools.warmup`),
                    so that their first cells do not wait; Binder's ``postBuild`` runs it
seeds               run one notebook with several seeds: the spread of its accuracies
                    (:mod:`course_utils.tools.seeds`)
site                build the course website from the executed notebooks (:mod:`course_utils.tools.site`)
==================  ============================================================================

Examples::

    python -m course_utils get-data --dataset ravdess --dest data
    python -m course_utils get-data --dataset ravdess --force      # extract (or download) again from scratch
    python -m course_utils get-data --dataset synthetic --dest /srv/class/data
    python -m course_utils run-notebooks --dataset synthetic --quick 1
    python -m course_utils run-notebooks --dataset synthetic --quick 1 00 05_eda
    python -m course_utils warm-cache --dataset synthetic --mode both
    python -m course_utils seeds notebooks/07_classical_baseline.ipynb --seeds 0 1 2 --quick 1
    python -m course_utils site

The Makefile's targets call it: ``make data`` (``get-data``), ``make notebooks`` (``run-notebooks``),
``make results``, ``make bench``, ``make site``; Binder's ``binder/postBuild`` runs ``get-data`` and
``warm-cache``. Build tooling (:mod:`course_utils.tools`): no notebook imports it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from course_utils.base import paths
from course_utils.base.errors import CourseError
from course_utils.data import datasets, download, metadata
from course_utils.course import summary
from course_utils.tools import runner, seeds, site


def _get_data(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    dest = Path(args.dest)
    ds = datasets.resolve(args.dataset, dest=dest, download_ok=True, force=args.force)
    meta = metadata.build_metadata(ds.root)
    missing = metadata.missing_files(meta)
    print(f"Dataset: {ds.description}")
    print(f"  {len(meta)} files, {meta['actor'].nunique()} actors, {meta['duration'].sum() / 60:.1f} minutes of audio")
    if missing:
        print(f"  note: {len(missing)} of the 1440 files of the full speech set are not there (a partial copy)")
    print(f"  ready in {time.perf_counter() - t0:.1f} s")
    if args.dataset in ("ravdess", "auto") and ds.name == "ravdess":
        print(f"  Licence: {download.LICENCE}. Cite: {download.CITATION}")
    if args.record:
        Path(args.record).parent.mkdir(parents=True, exist_ok=True)
        Path(args.record).write_text(ds.name + "\n")
    return 0


def _run_notebooks(args: argparse.Namespace) -> int:
    timings = runner.run_all(args.dataset, bool(args.quick), args.output, notebooks=args.notebooks or None)
    total = sum(t for _, t in timings)
    print(f"Executed {len(timings)} notebook(s) in {total:.0f} s into {args.output}")
    return 0


def _results(args: argparse.Namespace) -> int:
    out = summary.write_results_markdown(args.output)
    print(f"Wrote {out}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from course_utils.tools import bench

    ds = datasets.resolve(args.dataset, dest=Path(args.data), download_ok=False)
    meta = ds.metadata(quick=bool(args.quick))
    settings = bench.quick_settings() if args.quick else bench.BenchSettings()
    payload = bench.run_bench(meta, ds.name, settings=settings, output=args.output,
                              mode="quick" if args.quick else "full")
    print(summary.bench_report(payload))
    print(f"Wrote {args.output}")
    return 0


def _warm_cache(args: argparse.Namespace) -> int:
    from course_utils.tools import warmup

    modes = warmup.MODES if args.mode == "both" else (args.mode,)
    t0 = time.perf_counter()
    report = warmup.warm(args.dataset, profile=args.profile, modes=modes, n_jobs=args.jobs,
                         round_mtimes=args.whole_second_mtimes)
    print(report.to_string(index=False))
    print(f"Caches ready in {paths.cache_dir()}: {report['MB'].sum():.0f} MB written, "
          f"{time.perf_counter() - t0:.0f} s")
    from course_utils.data import cache

    print(f"\nWhat {paths.data_dir()} holds now (everything, hidden files included):")
    print(cache.usage().to_string(index=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m course_utils``: one subcommand per row of this module's table
    (``seeds`` and ``site`` add their own, :func:`course_utils.tools.seeds.add_subcommand` and
    :func:`course_utils.tools.site.add_subcommand`). Used by :func:`main`, and by the tests, which
    check that the commands the Makefile, Binder's ``postBuild`` and the docs name exist."""
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("get-data", help="download/check RAVDESS or generate the offline corpus")
    p.add_argument("--dataset", choices=datasets.CHOICES, default="auto")
    p.add_argument("--dest", default=str(paths.data_dir()), help="data folder (default: %(default)s)")
    p.add_argument("--record", help="write the name of the dataset used to this file (for make)")
    p.add_argument("--force", action="store_true",
                   help="start from scratch: extract RAVDESS again into <dest>/ravdess (downloading the zip again "
                        "unless the one in <dest>/downloads passes its checksum), or generate the synthetic corpus "
                        "again. Without it, a copy the course extracted that lost files is repaired from the kept zip")
    p.set_defaults(func=_get_data)

    p = sub.add_parser("run-notebooks", help="execute the notebooks headless with papermill")
    p.add_argument("--dataset", choices=("ravdess", "synthetic", "auto"), default="auto")
    p.add_argument("--quick", type=int, choices=(0, 1), default=0)
    p.add_argument("--output", default=str(paths.build_dir() / "executed"))
    p.add_argument("notebooks", nargs="*",
                   help="only these notebooks (default: all): a path, a file name in notebooks/, or its number (00)")
    p.set_defaults(func=_run_notebooks)

    p = sub.add_parser("results", help="write the table of every recorded metric")
    p.add_argument("--output", default=str(paths.build_dir() / "results.md"))
    p.set_defaults(func=_results)

    p = sub.add_parser("bench", help="time features and models (course vs study), write build/bench.json")
    p.add_argument("--dataset", choices=("ravdess", "synthetic", "auto"), default="auto")
    p.add_argument("--data", default=str(paths.data_dir()), help="data folder (default: %(default)s)")
    p.add_argument("--quick", type=int, choices=(0, 1), default=0)
    p.add_argument("--output", default=str(paths.build_dir() / "bench.json"))
    p.set_defaults(func=_bench)

    p = sub.add_parser("warm-cache", help="compute the feature caches the notebooks read (Binder's postBuild)",
                       description="Compute the caches the notebooks read (log-Mel images, pyin acoustics, MFCC "
                                   "statistics, trimmed durations, waveforms) into $COURSE_DATA_DIR/cache, with the "
                                   "notebooks' own calls. See course_utils.tools.warmup.")
    p.add_argument("--dataset", choices=datasets.CHOICES, default="auto",
                   help="as the notebooks' parameter (default: %(default)s)")
    p.add_argument("--mode", choices=("quick", "full", "both"), default="both",
                   help="the notebooks' quick mode, full mode or both (default: %(default)s)")
    p.add_argument("--profile", choices=("binder", "all"), default="binder",
                   help="binder: every chapter quick, 00-07 full; all: every cache of both modes "
                        "(default: %(default)s)")
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: the usable cores, at most 2)")
    p.add_argument("--whole-second-mtimes", action="store_true",
                   help="first round the audio files' modification times down to whole seconds, as a Docker image "
                        "layer stores them, so that the caches still match in the built image (Binder)")
    p.set_defaults(func=_warm_cache)

    seeds.add_subcommand(sub)
    site.add_subcommand(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m course_utils`` (``course_utils/__main__.py``), so of the ``make``
    targets this module names and of Binder's ``postBuild``; returns the exit status. Errors print their
    message (one clear line, or a few for a failed notebook), not a traceback, and exit with
    status 1. A read-only folder or a full disk is named with the fix
    (:func:`course_utils.data.download.as_data_folder_error`). The tests call it with arguments."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CourseError as err:
        parser.exit(1, f"error: {err}\n")
    except OSError as err:
        folder = getattr(args, "dest", None) or getattr(args, "data", None)
        parser.exit(1, f"error: {download.as_data_folder_error(err, folder) or err}\n")
    except (ValueError, RuntimeError) as err:
        parser.exit(1, f"error: {err}\n")
