"""pkgsearch TERM: search apt, brew, PyPI, npm, gem, pacman, dnf and pkgng at once.

Exit codes: 0 found, 1 nothing found, 2 usage error, 3 no manager could answer.
"""

import argparse
import os
import sys

from . import backends, core, output

EXIT_FOUND, EXIT_NOTHING, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: same shape and exit code as ours
        self.print_usage(sys.stderr)
        sys.stderr.write(f"pkgsearch: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser():
    p = _Parser(
        prog="pkgsearch",
        description="Search every package manager at once: " + ", ".join(backends.names()) + ".",
        epilog="Exit codes: 0 found, 1 nothing found, 2 usage error, 3 no manager could answer.",
    )
    p.add_argument("term", nargs="?", help="text to find in package names (and descriptions)")
    p.add_argument("-m", "--managers", help="comma-separated managers to search (default: all)")
    p.add_argument("-e", "--exact", action="store_true", help="only packages named exactly TERM")
    p.add_argument(
        "-n", "--limit", default=core.DEFAULT_LIMIT, help=f"at most N results (default {core.DEFAULT_LIMIT})"
    )
    p.add_argument(
        "-t",
        "--timeout",
        default=core.DEFAULT_TIMEOUT,
        help=f"seconds each manager may take (default {core.DEFAULT_TIMEOUT:g})",
    )
    p.add_argument("-r", "--refresh", action="store_true", help="rebuild/revalidate the local indexes first")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", dest="format", action="store_const", const="json", help="JSON output")
    fmt.add_argument("--plain", dest="format", action="store_const", const="plain", help="tab-separated lines")
    fmt.add_argument(
        "--table", dest="format", action="store_const", const="table", help="a table (default on a terminal)"
    )
    fmt.add_argument(
        "--stream",
        dest="format",
        action="store_const",
        const="stream",
        help="plain lines printed as each manager answers, unranked across managers",
    )
    p.add_argument("--pypi-index", help="PEP 691/503 simple index URL (env PKGSEARCH_PYPI_INDEX)")
    p.add_argument("--npm-registry", help="npm registry URL (env PKGSEARCH_NPM_REGISTRY)")
    p.add_argument("--gem-source", help="gem source URL (env PKGSEARCH_GEM_SOURCE)")
    p.add_argument("--cache-dir", help="where indexes are cached (env PKGSEARCH_CACHE_DIR)")
    p.add_argument("-q", "--quiet", action="store_true", help="no notes about skipped or failed managers")
    return p


def main(argv=None):
    for stream in (sys.stdout, sys.stderr):
        try:  # a summary in any script must not crash a non-UTF-8 terminal
            stream.reconfigure(errors="replace")
        except (AttributeError, ValueError):
            pass
    try:
        return _main(argv)
    except KeyboardInterrupt:
        sys.stderr.write("pkgsearch: interrupted\n")
        return 130
    except BrokenPipeError:  # `pkgsearch lib | head`: stop quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0


def _main(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.term is None:
        parser.error("a search term is required")
    fmt = args.format or ("table" if sys.stdout.isatty() else "plain")
    settings = {
        "pypi_index": args.pypi_index,
        "npm_registry": args.npm_registry,
        "gem_source": args.gem_source,
        "cache_dir": args.cache_dir,
    }
    try:
        term = core.validate_term(args.term)
        managers = core.parse_managers(args.managers)
        core.Options(limit=args.limit, timeout=args.timeout, **settings)  # validate before starting
    except core.UsageError as exc:
        parser.error(str(exc))

    err = sys.stderr
    progress = output.Progress(err, managers) if err.isatty() and fmt != "stream" and not args.quiet else None

    def on_outcome(outcome):
        if progress:
            progress.update(outcome)
        if fmt == "stream" and outcome.packages:
            sys.stdout.write(output.plain(outcome.packages))
            sys.stdout.flush()

    report = core.search(
        term,
        managers=managers,
        on_outcome=on_outcome,
        exact=args.exact,
        limit=args.limit,
        timeout=args.timeout,
        refresh=args.refresh,
        **settings,
    )
    if not progress and not args.quiet:
        for outcome in report.outcomes:
            if outcome.status != "ok":
                err.write(f"pkgsearch: {outcome.manager}: {output.describe(outcome)}\n")
    if fmt == "json":
        sys.stdout.write(output.as_json(report.packages))
    elif fmt == "table":
        sys.stdout.write(output.table(report.packages))
    elif fmt == "plain":
        sys.stdout.write(output.plain(report.packages))
    code = report.exit_code
    if code == EXIT_NOTHING and not args.quiet:
        err.write(f"pkgsearch: nothing found for {term!r}\n")
    elif code == EXIT_FAILED:
        err.write("pkgsearch: no package manager could answer\n")
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
