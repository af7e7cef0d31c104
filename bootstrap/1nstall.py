#!/usr/bin/env python3
"""
Bootstrap this machine with sparks: install Salt into a private virtualenv, then apply this machine's roles
masterless from this checkout.

    sudo python3 bootstrap/1nstall.py                 # roles from pillar/grains, `base` when none
    sudo python3 bootstrap/1nstall.py --roles base,dev
    sudo python3 bootstrap/1nstall.py --pillar my-site.sls --test
    python3 bootstrap/1nstall.py --list               # every role and state, with what it does

Runs with the system's python3 only (standard library). Safe to run again: a second run changes nothing.
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FORMULAS = REPO_ROOT / "formulas"
CONFIG_DIR = REPO_ROOT / "salt" / "config"
LOCAL_PILLAR = Path("/etc/sparks/pillar/local.sls")
DEFAULT_VENV = Path("/opt/sparks/venv")
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
    say("Installing what Salt needs from the system's package manager")
    install_prerequisites(system)
    say(f"Installing Salt ({args.salt_version or 'the pinned version'}) into {args.venv}")
    salt_call = install_salt(args.venv, args.salt_version)
    if pillar_text is not None:
        say(f"Installing the machine-local pillar {args.pillar} as {LOCAL_PILLAR} (readable by root only)")
        install_local_pillar(pillar_text)
    mode = "Showing what would change (test mode)" if args.test else "Applying this machine's roles"
    say(f"{mode} from {REPO_ROOT}")
    return apply_highstate(salt_call, args.roles, args.test)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="1nstall.py",
        description=__doc__.split("\n\n")[0].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--roles", help="comma-separated roles to apply instead of the machine's own (e.g. base,dev)")
    parser.add_argument("--pillar", metavar="FILE", help="YAML pillar for this machine, kept as " + str(LOCAL_PILLAR))
    parser.add_argument("--test", action="store_true", help="dry run: show what would change, change nothing")
    parser.add_argument("--salt-version", metavar="SPEC", help="Salt version to install, e.g. 3007.16 or '3008.*'")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help=f"where Salt is installed ({DEFAULT_VENV})")
    parser.add_argument("--list", action="store_true", help="list every role and state with its description")
    args = parser.parse_args(argv)
    if args.roles is not None:
        roles = [role.strip() for role in args.roles.split(",") if role.strip()]
        unknown = sorted(set(roles) - set(catalogue()))
        if not roles or unknown:
            parser.error(f"--roles: unknown role(s) {', '.join(unknown) or '(none given)'}; see --list")
        args.roles = roles
    if args.salt_version and not re.fullmatch(r"[0-9][0-9.]*(\.\*)?", args.salt_version):
        parser.error(f"--salt-version: {args.salt_version!r} is not a version like 3007.16 or 3007.*")
    return args


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
def install_prerequisites(system):
    if system == "Darwin":
        if not shutil.which("brew"):
            raise SystemExit(fail("Homebrew is required on macOS: install it (https://brew.sh), then run again."))
        run(["brew", "install", "python@3.11"])
        return
    if not shutil.which("apt-get"):
        raise SystemExit(fail("apt-get not found: sparks bootstraps Debian and Ubuntu machines"))
    needed = [pkg for pkg in ("python3-venv", "ca-certificates") if not dpkg_installed(pkg)]
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
    if not python.exists():
        run([sys.executable if sys.platform != "darwin" else "python3.11", "-m", "venv", str(venv)])
    requirements = pinned_requirements(salt_version)
    # pip leaves satisfied requirements alone, so a second run installs nothing.
    run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements])
    return venv / "bin" / "salt-call"


def pinned_requirements(salt_version):
    """The runtime requirements of pyproject.toml (one pin for the whole project), Salt's optionally replaced."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    if salt_version:
        requirements = [f"salt=={salt_version}" if req.startswith("salt") else req for req in requirements]
    return requirements


def read_pillar_file(path):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(fail(f"--pillar: cannot read {path}: {exc.strerror}")) from exc
    return text


def install_local_pillar(text):
    LOCAL_PILLAR.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(LOCAL_PILLAR.parent, 0o700)
    tmp = LOCAL_PILLAR.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, LOCAL_PILLAR)


# ----------------------------------------------------------------------------------------------- apply
def apply_highstate(salt_call, roles, test):
    cmd = [
        str(salt_call),
        "--local",
        "-c",
        str(CONFIG_DIR),
        "--out=json",
        "--retcode-passthrough",
        "--log-level=info",
        "state.highstate",
    ]
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
        return fail("run as root (or install sudo): sparks installs packages and system configuration")
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
