"""The engine shared by the CLI and the Salt module: term validation, ranking, the
concurrent run of the backends with a per-backend timeout, and the result schema.

Nothing here prints; the CLI (``cli.py``) and the Salt module format what this returns.
"""

import heapq
import os
import queue
import re
import threading
import time

from . import backends as _backends

# The JSON schema: one object per package, always these keys, in this order.
FIELDS = ("manager", "name", "version", "summary", "installed")

MAX_TERM_LENGTH = 128
DEFAULT_LIMIT = 50
DEFAULT_TIMEOUT = 10.0

# Ranks, best first.
EXACT, PREFIX, SUBSTRING, DESCRIPTION = 0, 1, 2, 3
RANK_NAMES = {EXACT: "exact", PREFIX: "prefix", SUBSTRING: "substring", DESCRIPTION: "description"}

# Characters a package name may hold in any of the managers we search (npm scopes bring @ and /).
_TERM_OK = re.compile(r"[A-Za-z0-9@][A-Za-z0-9._+@/-]*\Z")
_REGEX_CHARS = set("^$*?[](){}|\\")


class UsageError(ValueError):
    """Bad input: the CLI exits 2, the Salt module raises SaltInvocationError."""


class BackendError(Exception):
    """A backend could not answer (tool failed, server unreachable, bad response)."""


class Skipped(Exception):
    """A backend cannot run here (its tool is missing); reported as skipped, not as an error."""


class Package:
    """One search hit. ``installed`` is the installed version, or None."""

    __slots__ = FIELDS + ("rank",)

    def __init__(self, manager, name, version=None, summary="", installed=None, rank=None):
        self.manager = manager
        self.name = name
        self.version = version or None
        self.summary = " ".join((summary or "").split())
        self.installed = installed or None
        self.rank = rank

    def as_dict(self):
        return {field: getattr(self, field) for field in FIELDS}

    def __repr__(self):
        return "Package({})".format(", ".join(f"{k}={getattr(self, k)!r}" for k in FIELDS))


class Outcome:
    """What one backend did: status is "ok", "skipped", "error" or "timeout"."""

    __slots__ = ("manager", "status", "packages", "message", "elapsed")

    def __init__(self, manager, status, packages=(), message="", elapsed=0.0):
        self.manager = manager
        self.status = status
        self.packages = list(packages)
        self.message = message
        self.elapsed = elapsed

    def as_dict(self):
        return {
            "manager": self.manager,
            "status": self.status,
            "count": len(self.packages),
            "message": self.message,
            "elapsed": round(self.elapsed, 3),
        }


class Report:
    """Everything a search produced: ranked packages and one Outcome per backend."""

    def __init__(self, term, packages, outcomes, elapsed):
        self.term = term
        self.packages = packages
        self.outcomes = outcomes
        self.elapsed = elapsed

    @property
    def exit_code(self):
        """0 found, 1 nothing found, 3 no backend could answer (all failed or skipped)."""
        if self.packages:
            return 0
        if any(o.status == "ok" for o in self.outcomes):
            return 1
        return 3

    def as_json(self):
        return [p.as_dict() for p in self.packages]


# ---------------------------------------------------------------------------------------------
# Input validation


def validate_term(term):
    """Return the term stripped, or raise UsageError with a message a person can act on."""
    if term is None or not isinstance(term, str):
        raise UsageError("a search term is required")
    term = term.strip()
    if not term:
        raise UsageError("the search term is empty")
    if len(term) > MAX_TERM_LENGTH:
        raise UsageError(f"the search term is {len(term)} characters long; package names are at most {MAX_TERM_LENGTH}")
    if not term.isascii():
        raise UsageError(
            "the search term contains non-ASCII characters; package names are ASCII (letters, digits and . _ + - @ /)"
        )
    if any(ch in _REGEX_CHARS for ch in term):
        raise UsageError(
            f"the search term {term!r} looks like a regular expression; pkgsearch matches plain "
            "text (letters, digits and . _ + - @ /), so search for a fragment of the name instead"
        )
    if not _TERM_OK.match(term):
        raise UsageError(
            f"the search term {term!r} is not a package name fragment; use letters, digits "
            "and . _ + - @ / (starting with a letter, digit or @)"
        )
    return term


def parse_managers(managers):
    """Accept None/"" (all), "apt,npm" or a list; return registered names in registry order."""
    known = _backends.names()
    if managers is None or managers == "" or managers == []:
        return list(known)
    if isinstance(managers, str):
        wanted = managers.split(",")
    else:
        wanted = []
        for item in managers:
            wanted.extend(str(item).split(","))
    wanted = [w.strip().lower() for w in wanted if w.strip()]
    if not wanted:
        raise UsageError("--managers needs at least one manager name")
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise UsageError(
            "unknown manager{} {}; known managers: {}".format(
                "s" if len(unknown) > 1 else "", ", ".join(repr(u) for u in unknown), ", ".join(known)
            )
        )
    return [name for name in known if name in wanted]


def validate_number(value, what, minimum, cast=int):
    try:
        number = cast(value)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a number, not {value!r}") from None
    if number != number or number < minimum or number in (float("inf"),):  # NaN, too small, inf
        raise UsageError(f"{what} must be at least {minimum}, not {value!r}")
    return number


# ---------------------------------------------------------------------------------------------
# Ranking


def normalize(name):
    """Case-insensitive comparison form; '-', '_' and '.' are the same (as PEP 503 has it)."""
    name = name.lower().replace("_", "-").replace(".", "-")
    while "--" in name:  # str methods: this runs for every candidate name, re.sub is 5x slower
        name = name.replace("--", "-")
    return name


def rank(term, name, summary="", description_matched=False):
    """Rank of a hit: EXACT, PREFIX, SUBSTRING (of the name), DESCRIPTION, or None (no match)."""
    t = term.lower()
    n = name.lower()
    if n == t:
        return EXACT
    nt, nn = normalize(t), normalize(n)
    if nn == nt:
        return EXACT
    # npm scoped names: "@types/node" is a prefix match for "node" as well as for "@types".
    if n.startswith(t) or nn.startswith(nt) or n.rsplit("/", 1)[-1].startswith(t):
        return PREFIX
    if t in n or nt in nn:
        return SUBSTRING
    if description_matched or t in (summary or "").lower():
        return DESCRIPTION
    return None


def sort_key(package, order=None):
    order = order or {}
    return (package.rank, len(package.name), package.name.lower(), order.get(package.manager, 99))


def rank_packages(term, packages, exact=False, description_matched=True, limit=None):
    """Give every package its rank, drop non-matches (and non-exact ones with exact=True),
    and return them best first. Backends return what their own search found, so a hit whose
    name does not contain the term counts as a description match."""
    ranked = []
    for package in packages:
        package.rank = rank(term, package.name, package.summary, description_matched)
        if package.rank is None or (exact and package.rank != EXACT):
            continue
        ranked.append(package)
    if limit is not None and len(ranked) > 4 * limit:
        return heapq.nsmallest(limit, ranked, key=sort_key)
    ranked.sort(key=sort_key)
    return ranked if limit is None else ranked[:limit]


# ---------------------------------------------------------------------------------------------
# Options shared by every backend


class Options:
    """Settings for one search. Values come from the caller (CLI flags or Salt arguments),
    then environment variables, then defaults."""

    ENV = {
        "pypi_index": ("PKGSEARCH_PYPI_INDEX", "PIP_INDEX_URL"),
        "npm_registry": ("PKGSEARCH_NPM_REGISTRY", "npm_config_registry", "NPM_CONFIG_REGISTRY"),
        "gem_source": ("PKGSEARCH_GEM_SOURCE",),
        "cache_dir": ("PKGSEARCH_CACHE_DIR",),
        "pypi_max_age": ("PKGSEARCH_PYPI_MAX_AGE",),
        "apt_lists": ("PKGSEARCH_APT_LISTS",),
        "dpkg_status": ("PKGSEARCH_DPKG_STATUS",),
    }
    DEFAULTS = {
        "pypi_index": "https://pypi.org/simple/",
        "npm_registry": "https://registry.npmjs.org/",
        "gem_source": "https://rubygems.org/",
        "cache_dir": None,
        "pypi_max_age": 86400,
        "apt_lists": "/var/lib/apt/lists",
        "dpkg_status": "/var/lib/dpkg/status",
    }

    def __init__(self, exact=False, limit=DEFAULT_LIMIT, timeout=DEFAULT_TIMEOUT, refresh=False, **settings):
        self.exact = bool(exact)
        self.limit = validate_number(limit, "--limit", 1)
        self.timeout = validate_number(timeout, "--timeout", 0.1, float)
        self.refresh = bool(refresh)
        unknown = set(settings) - set(self.DEFAULTS)
        if unknown:
            raise UsageError("unknown setting(s): {}".format(", ".join(sorted(unknown))))
        for key, default in self.DEFAULTS.items():
            value = settings.get(key)
            if value in (None, ""):
                value = next((os.environ[e] for e in self.ENV[key] if os.environ.get(e)), default)
            setattr(self, key, value)
        self.pypi_max_age = validate_number(self.pypi_max_age, "pypi_max_age", 0, float)
        if not self.cache_dir:
            base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
            self.cache_dir = os.path.join(base, "pkgsearch")
        self.deadline = None  # set by search(): time.monotonic() value after which to give up

    def remaining(self):
        if self.deadline is None:
            return self.timeout
        return max(0.05, self.deadline - time.monotonic())

    def cache_path(self, *parts):
        path = os.path.join(self.cache_dir, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path


# ---------------------------------------------------------------------------------------------
# The search


def _run_backend(name, term, options, results):
    started = time.monotonic()
    try:
        backend = _backends.get(name)
        missing = backend.missing(options)
        if missing:
            outcome = Outcome(name, "skipped", message=missing)
        else:
            found = backend.search(term, options)
            outcome = Outcome(name, "ok", found)
    except Skipped as exc:
        outcome = Outcome(name, "skipped", message=str(exc))
    except BackendError as exc:
        outcome = Outcome(name, "error", message=str(exc))
    except Exception as exc:  # a bug or an unexpected answer: report it for this backend only
        outcome = Outcome(name, "error", message=f"{type(exc).__name__}: {exc}")
    outcome.elapsed = time.monotonic() - started
    results.put(outcome)


def _spawns(name):
    try:
        return bool(getattr(_backends.get(name), "spawns", False))
    except Exception:  # an import error is reported by the backend's own thread
        return False


def search(term, managers=None, on_outcome=None, **options):
    """Search every selected manager concurrently and return a Report.

    ``on_outcome(outcome)`` is called (in the caller's thread) as each backend answers, so a
    front end can stream progress. Raises UsageError for bad input.
    """
    term = validate_term(term)
    selected = parse_managers(managers)
    opts = Options(**options)
    started = time.monotonic()
    opts.deadline = started + opts.timeout
    results = queue.Queue()
    # Backends that start a tool (ruby, brew, ...) go first: their process start overlaps the rest.
    for name in sorted(selected, key=lambda n: not _spawns(n)):
        # Daemon threads: a backend stuck past its timeout is abandoned, never waited for.
        threading.Thread(
            target=_run_backend, args=(name, term, opts, results), name=f"pkgsearch-{name}", daemon=True
        ).start()
    outcomes = {}
    while len(outcomes) < len(selected):
        left = opts.deadline - time.monotonic()
        try:
            outcome = results.get(timeout=max(0.0, left) + 0.05)
        except queue.Empty:
            break
        outcome.packages = rank_packages(term, outcome.packages, opts.exact, limit=opts.limit)
        outcomes[outcome.manager] = outcome
        if on_outcome:
            on_outcome(outcome)
    for name in selected:
        if name not in outcomes:
            outcome = Outcome(
                name, "timeout", message=f"no answer within {opts.timeout:g}s", elapsed=time.monotonic() - started
            )
            outcomes[name] = outcome
            if on_outcome:
                on_outcome(outcome)
    order = {name: i for i, name in enumerate(selected)}
    packages = [p for name in selected for p in outcomes[name].packages]
    packages.sort(key=lambda p: sort_key(p, order))
    packages = packages[: opts.limit]
    return Report(term, packages, [outcomes[name] for name in selected], time.monotonic() - started)
