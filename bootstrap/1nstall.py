#!/usr/bin/env python3
"""
Bootstrap this machine with sparks: install Salt into a private virtualenv, then apply this machine's roles
masterless from this checkout.

    python3 bootstrap/1nstall.py                      # as root: roles from pillar/grains, `base` when none
    python3 bootstrap/1nstall.py --roles base,dev
    python3 bootstrap/1nstall.py --pillar my-site.sls --test
    python3 bootstrap/1nstall.py --list               # any user: every role and state, with what it does

Run it as root (a sudoer may run it as a user: it re-runs itself through sudo). Needs only the system's
python3, 3.10 or newer (standard library only: .ci/run checks this file with vermin). Salt is the version pinned
in requirements/constraints.txt, installed with that file. Safe to run again: a second run changes nothing.
"""

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FORMULAS = REPO_ROOT / "formulas"
CONFIG_DIR = REPO_ROOT / "salt" / "config"
PILLAR_DIR = REPO_ROOT / "pillar"
LOCAL_PILLAR = Path("/etc/sparks/pillar/local.sls")
DEFAULT_VENV = Path("/opt/sparks/venv")
# Exact versions of Salt and its whole dependency closure, as CI tested them; its salt== line is the one pin.
CONSTRAINTS = REPO_ROOT / "requirements" / "constraints.txt"
SALT_PIN = re.compile(r"^salt==(?P<version>[^\s;]+)\s*$", re.MULTILINE)
# 3008.0's package on PyPI declares no dependencies; 3007 and older are out of support (3007 since 2026-07-31).
OLDEST_SALT = (3008, 1)
# A venv, and what pip needs to build Salt 3008's dependency timelib: it is published as source only (C).
APT_PREREQUISITES = ("python3-venv", "ca-certificates", "gcc", "libc6-dev", "python3-dev")
# Salt's gpg renderer runs gpg (and its agent, which holds the private key) where pillar is compiled: here, when the
# machine's pillar has GPG-encrypted values (README: encrypted pillar). What the renderer looks for:
PGP_MESSAGE_START = "-----BEGIN PGP MESSAGE-----"
GPG_PREREQUISITES = {"apt": ("gpg", "gpg-agent"), "brew": ("gnupg",)}
# The venv check every formula uses too (standard library only, so this file can load it by path).
VENV_CHECK = REPO_ROOT / "salt" / "_utils" / "sparks_venv.py"
STATE_LINE = re.compile(r"Running state \[(?P<name>.*?)\] at time")


def main(argv=None):
    args = parse_args(argv)
    if args.list:
        print_catalogue()
        return 0
    system = platform.system()
    if system == "Darwin":
        say("macOS support follows sparks' OSX recipes but is UNTESTED here (CI runs Debian only).")
    elif system != "Linux":
        return fail(f"unsupported system {system!r}: sparks bootstraps Debian/Ubuntu (and, untested, macOS)")
    if os.geteuid() != 0:
        return reexec_with_sudo(argv)

    pillar_text = read_pillar_file(args.pillar) if args.pillar else None
    encrypted = PGP_MESSAGE_START in (pillar_text if pillar_text is not None else stored_pillar_text())
    say("Installing what Salt needs from the system's package manager")
    install_prerequisites(system, gpg=encrypted)
    say(f"Installing Salt {args.salt_version or pinned_salt_version()} into {args.venv}")
    salt_call = install_salt(args.venv, args.salt_version)
    if pillar_text is None:
        return apply(salt_call, args)
    # The new file is checked (YAML, then the schema) in a private copy of the pillar tree before it replaces the
    # stored one: a refused file leaves the machine's settings as they were, and the next plain run still works.
    with tempfile.TemporaryDirectory(prefix="sparks-pillar-") as staging:
        pillar_root = stage_pillar(Path(staging), pillar_text)
        say(f"Checking {args.pillar} (YAML, then the schema of every formula)")
        problems = pillar_problems(salt_call, pillar_root, args.pillar)
        if problems:
            print("\n".join(problems), file=sys.stderr)
            return fail(f"--pillar: {args.pillar} refused, nothing was applied; {LOCAL_PILLAR} is unchanged")
        if args.test:  # a dry run changes nothing, the stored pillar included: it runs with the new file in place
            return apply(salt_call, args, pillar_root)
    say(f"Installing the machine-local pillar {args.pillar} as {LOCAL_PILLAR} (readable by root only)")
    install_local_pillar(pillar_text)
    return apply(salt_call, args)


def apply(salt_call, args, pillar_root=None):
    mode = "Showing what would change (test mode)" if args.test else "Applying this machine's roles"
    say(f"{mode} from {REPO_ROOT}")
    return apply_highstate(salt_call, args.roles, args.test, pillar_root)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="1nstall.py",
        description=__doc__.split("\n\n")[0].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--roles", help="comma-separated roles to apply instead of the machine's own (e.g. base,dev)")
    parser.add_argument("--pillar", metavar="FILE", help="YAML pillar for this machine, kept as " + str(LOCAL_PILLAR))
    parser.add_argument("--test", action="store_true", help="dry run: show what would change, change nothing")
    parser.add_argument(
        "--salt-version",
        metavar="SPEC",
        help="another Salt version than the pinned one (3008.1 or newer, e.g. 3008.5 or '3008.*')",
    )
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help=f"where Salt is installed ({DEFAULT_VENV})")
    parser.add_argument("--list", action="store_true", help="list every role and state with its description")
    args = parser.parse_args(argv)
    if args.roles is not None:
        roles = [role.strip() for role in args.roles.split(",") if role.strip()]
        unknown = sorted(set(roles) - set(catalogue()))
        if not roles or unknown:
            parser.error(f"--roles: unknown role(s) {', '.join(unknown) or '(none given)'}; see --list")
        args.roles = roles
    if args.salt_version:
        problem = salt_version_problem(args.salt_version)
        if problem:
            parser.error(f"--salt-version: {problem}")
    return args


def salt_version_problem(spec):
    """Why ``spec`` cannot be installed, or None. Only the shape and the support floor are checked here."""
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)*(\.\*)?", spec):
        return f"{spec!r} is not a version like 3008.4 or 3008.*"
    parts = [int(part) for part in spec.split(".") if part != "*"]
    wildcard = spec.endswith(".*")
    major, minor = parts[0], parts[1] if len(parts) > 1 else None
    if major < OLDEST_SALT[0]:
        return (
            f"Salt {spec} is out of support (3007 since 2026-07-31) and sparks is tested on 3008 only; "
            f"upgrade the master first, then minions (README: upgrading a fleet from 3007 to 3008)"
        )
    if major == OLDEST_SALT[0] and (minor == 0 or (minor is None and not wildcard)):
        what = spec if spec.startswith("3008.0") else f"{spec} (that is 3008.0)"
        return f"Salt {what}: its PyPI package installs without its dependencies; use 3008.1 or newer"
    return None


# ----------------------------------------------------------------------------------------------- catalogue
def catalogue():
    """Every state a user can apply, mapped to its one-line description (the first comment of its SLS)."""
    states = {}
    for sls in sorted(FORMULAS.rglob("*.sls")):
        relative = sls.relative_to(FORMULAS).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "init":
            parts.pop()
        if not parts:
            continue
        states[".".join(parts)] = describe(sls)
    return dict(sorted(states.items()))


def describe(sls):
    for line in sls.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
        if line.strip():
            break
    return ""


def print_catalogue():
    # `1nstall.py --list | head` must end quietly, like any listing command.
    import signal

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    states = catalogue()
    roles = {name: text for name, text in states.items() if "." not in name}
    width = max(len(name) for name in states) + 2
    print("Roles (apply with --roles, the `roles` grain or pillar sparks:roles):")
    for name, text in roles.items():
        print(f"  {name:<{width}}{text}")
    print("\nStates (salt-call/salt-ssh ... state.apply NAME):")
    for name, text in states.items():
        print(f"  {name:<{width}}{text}")


# ----------------------------------------------------------------------------------------------- installs
def install_prerequisites(system, gpg=False):
    if system == "Darwin":
        if not shutil.which("brew"):
            raise SystemExit(fail("Homebrew is required on macOS: install it (https://brew.sh), then run again."))
        run(["brew", "install", "python@3.11", *(GPG_PREREQUISITES["brew"] if gpg else ())])
        return
    if not shutil.which("apt-get"):
        raise SystemExit(fail("apt-get not found: sparks bootstraps Debian and Ubuntu machines"))
    wanted = APT_PREREQUISITES + (GPG_PREREQUISITES["apt"] if gpg else ())
    needed = [pkg for pkg in wanted if not dpkg_installed(pkg)]
    if needed:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *needed], env=env)


def dpkg_installed(package):
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Abbrev}", package], capture_output=True, text=True, check=False
    )
    return result.stdout.startswith("ii")


def install_salt(venv, salt_version):
    python = venv / "bin" / "python"
    base_python = sys.executable if sys.platform != "darwin" else "python3.11"
    if not venv.exists():
        run([base_python, "-m", "venv", str(venv)])
    elif not (status := venv_status(venv, base_python))["current"]:
        # A distribution upgrade replaced the Python the venv was made with: make it again, empty, and reinstall.
        say(f"Rebuilding {venv}: {status['reason']}")
        run([base_python, "-m", "venv", "--clear", str(venv)])
    if salt_version and salt_version != pinned_salt_version():
        say(
            f"Salt {salt_version} is not the version CI tested ({pinned_salt_version()}): pip resolves its dependencies"
        )
    # pip leaves satisfied requirements alone, so a second run installs nothing.
    run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pip_arguments(salt_version)])
    return venv / "bin" / "salt-call"


def venv_status(venv, python):
    """salt/_utils/sparks_venv.py's status of ``venv`` against ``python``."""
    spec = importlib.util.spec_from_file_location("sparks_venv", VENV_CHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.status(str(venv), python)


def pinned_salt_version():
    """The version on the salt== line of requirements/constraints.txt."""
    try:
        found = SALT_PIN.findall(CONSTRAINTS.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SystemExit(fail(f"cannot read {CONSTRAINTS}: {exc.strerror}")) from exc
    if len(found) != 1:
        raise SystemExit(fail(f"{CONSTRAINTS} must have exactly one salt==VERSION line (found {len(found)})"))
    return found[0]


def pip_arguments(salt_version=None):
    """pip install arguments: the pinned Salt with the constraints file (every dependency at the version CI
    tested), or another version on its own, whose dependencies pip resolves (the file's pins belong to the
    pinned version and could contradict another's requirements)."""
    pinned = pinned_salt_version()
    if not salt_version or salt_version == pinned:
        return ["--constraint", str(CONSTRAINTS), f"salt=={pinned}"]
    return [f"salt=={salt_version}"]


def read_pillar_file(path):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(fail(f"--pillar: cannot read {path}: {exc.strerror}")) from exc
    return text


def stored_pillar_text():
    """The machine's stored pillar file, "" when there is none (or it cannot be read: Salt will say so)."""
    try:
        return LOCAL_PILLAR.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def stage_pillar(staging, text):
    """A pillar tree like the one Salt reads (this checkout's pillar/ and the local file), with ``text`` as the
    local file; private to root (it may hold secrets)."""
    staging.chmod(0o700)
    for source in PILLAR_DIR.glob("*.sls"):
        shutil.copy(source, staging / source.name)
    (staging / LOCAL_PILLAR.name).write_text(text, encoding="utf-8")
    return staging


def pillar_problems(salt_call, pillar_root, shown_as):
    """What Salt refuses in the pillar under ``pillar_root`` (each line names the file, or the key), or []."""
    cmd = [str(salt_call), "--local", "-c", str(CONFIG_DIR), "--pillar-root", str(pillar_root), "--out=json"]
    # state.show_top compiles the pillar (the schema check included) and refuses to go on when it has errors.
    result = subprocess.run([*cmd, "state.show_top"], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return []
    text = result.stderr.replace(str(pillar_root / LOCAL_PILLAR.name), str(shown_as))
    problems = [line[2:] for line in text.splitlines() if line.startswith("- ")]
    return problems or [text.strip() or f"salt-call exited {result.returncode}"]


def install_local_pillar(text):
    LOCAL_PILLAR.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(LOCAL_PILLAR.parent, 0o700)
    tmp = LOCAL_PILLAR.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, LOCAL_PILLAR)


# ----------------------------------------------------------------------------------------------- apply
def apply_highstate(salt_call, roles, test, pillar_root=None):
    cmd = [str(salt_call), "--local", "-c", str(CONFIG_DIR), "--out=json", "--retcode-passthrough", "--log-level=info"]
    if pillar_root:
        cmd += ["--pillar-root", str(pillar_root)]
    cmd.append("state.highstate")
    if test:
        cmd.append("test=True")
    if roles:
        cmd.append("pillar=" + json.dumps({"sparks": {"roles": roles}}))
    process = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output = []
    import threading

    reader = threading.Thread(target=lambda: output.append(process.stdout.read()), daemon=True)
    reader.start()
    for line in process.stderr:
        match = STATE_LINE.search(line)
        if match:
            print(f"    running {match.group('name')}", flush=True)
    process.wait()
    reader.join()
    return summarize("".join(output), process.returncode, test)


def summarize(text, returncode, test):
    try:
        ret = json.loads(text)["local"]
    except (ValueError, KeyError, TypeError):
        return fail(f"Salt returned no state results (exit {returncode}):\n{text}")
    if not isinstance(ret, dict):
        # Render or pillar errors: nothing ran.
        print("\n".join(str(line) for line in ret) if isinstance(ret, list) else ret)
        return fail("nothing was applied: fix the errors above")
    changed = failed = 0
    for state in sorted(ret.values(), key=lambda state: state.get("__run_num__", 0)):
        label = f"{state.get('__id__', state.get('name'))}"
        if state["result"] is False:
            failed += 1
            print(f"  FAILED   {label}: {state.get('comment', '')}")
        elif state.get("changes") or (test and state["result"] is None):
            changed += 1
            print(f"  {'WOULD CHANGE' if test else 'changed '} {label}")
    verb = "would change" if test else "changed"
    print(f"sparks: {len(ret)} states, {changed} {verb}, {failed} failed")
    return 1 if failed or returncode not in (0, None) and not test else 0


# ----------------------------------------------------------------------------------------------- helpers
def reexec_with_sudo(argv):
    if not shutil.which("sudo"):
        command = " ".join(["python3", "bootstrap/1nstall.py", *(argv if argv is not None else sys.argv[1:])])
        return fail(
            "sparks installs packages and system configuration: run it as root. sudo is not installed here, so "
            f"become root with `su -` (root's password), then from {REPO_ROOT}: {command}"
        )
    os.execvp("sudo", ["sudo", sys.executable, str(Path(__file__).resolve()), *(argv or sys.argv[1:])])
    return 1


def run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise SystemExit(fail(f"{' '.join(cmd)} failed (exit {result.returncode}):\n{result.stderr}{result.stdout}"))
    return result


def say(message):
    print(f"==> {message}", flush=True)


def fail(message):
    print(f"sparks: error: {message}", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
