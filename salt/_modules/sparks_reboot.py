"""
Does this machine need a reboot, is it healthy, and a reboot that its caller can wait for.

``sparks_reboot.required`` answers True when a reboot is needed: a package asked for one (Debian's
``/run/reboot-required``, written by the kernel, libc, systemd... postinst scripts through
``/usr/share/update-notifier/notify-reboot-required``), or needrestart sees a newer kernel installed than the one
running. Services merely running replaced libraries are needrestart's business (``base.restarts``) and are listed,
not counted: a restart fixes them.

``sparks_reboot.reboot`` schedules the reboot a few seconds later (through systemd, detached from the job) so its
caller gets an answer first; ``boot`` identifies the current boot, so the caller can tell when the machine is back.
The rolling reboot of a role is the runner of the same name (salt/_runners/sparks_reboot.py).
"""

import os
import re

import salt.utils.path
from salt.exceptions import CommandExecutionError

__virtualname__ = "sparks_reboot"

FLAG = "/run/reboot-required"
FLAG_PACKAGES = "/run/reboot-required.pkgs"
# needrestart -b: NEEDRESTART-KSTA 2 = an ABI-compatible kernel update, 3 = a new kernel version, is pending.
KERNEL_PENDING = {"2", "3"}


def __virtual__():
    if not salt.utils.path.which("systemctl"):
        return (False, "sparks_reboot needs systemd")
    return __virtualname__


def _needrestart():
    """needrestart's batch report: (kernel facts, services needing a restart); empty without needrestart."""
    if not salt.utils.path.which("needrestart"):
        return {}, []
    # -r l: list only, whatever the configured mode (this is a question, not an upgrade).
    ret = __salt__["cmd.run_all"](["needrestart", "-b", "-r", "l"], python_shell=False, ignore_retcode=True)
    if ret["retcode"] != 0:
        raise CommandExecutionError(f"needrestart -b failed ({ret['retcode']}): {ret['stderr'].strip()}")
    kernel, services = {}, []
    for line in ret["stdout"].splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if key == "NEEDRESTART-SVC":
            services.append(value)
        elif key.startswith("NEEDRESTART-K"):
            kernel[key[len("NEEDRESTART-") :]] = value
    return kernel, services


def boot():
    """An identifier of the current boot: the kernel's boot id plus the start time of PID 1.

    The kernel's id alone is not enough in a container, which shares its host's kernel (and boot id).
    """
    with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
        boot_id = handle.read().strip()
    with open("/proc/1/stat", encoding="ascii") as handle:
        # Field 22 (starttime), counted after the command name, which may hold spaces but ends with ')'.
        started = handle.read().rsplit(")", 1)[1].split()[19]
    return f"{boot_id}:{started}"


def status():
    """Whether a reboot is required and why, the services needrestart says need a restart, and the boot id.

    CLI Example:

    .. code-block:: bash

        salt '*' sparks_reboot.status
    """
    reasons = []
    if os.path.exists(FLAG):
        packages = []
        if os.path.exists(FLAG_PACKAGES):
            with open(FLAG_PACKAGES, encoding="utf-8", errors="replace") as handle:
                packages = sorted({line.strip() for line in handle if line.strip()})
        reasons.append(f"{FLAG}" + (f" (packages: {', '.join(packages)})" if packages else ""))
    kernel, services = _needrestart()
    if kernel.get("KSTA") in KERNEL_PENDING:
        reasons.append(f"kernel {kernel.get('KCUR', '?')} is running, {kernel.get('KEXP', '?')} is installed")
    return {"required": bool(reasons), "reasons": reasons, "services": services, "boot": boot()}


def required():
    """True when this machine needs a reboot (see ``status`` for why).

    CLI Example:

    .. code-block:: bash

        salt '*' sparks_reboot.required
    """
    return status()["required"]


def reboot(only_if_required=True, delay=3):
    """Reboot in ``delay`` seconds, detached from this job so that it returns first; with ``only_if_required``
    (the default), only when ``required`` says so. Returns whether it will reboot, why, and the current boot id.

    CLI Example:

    .. code-block:: bash

        salt node1 sparks_reboot.reboot only_if_required=False
    """
    current = status()
    if only_if_required and not current["required"]:
        return {"rebooting": False, "reasons": [], "boot": current["boot"]}
    delay = int(delay)
    ret = __salt__["cmd.run_all"](
        ["systemd-run", f"--on-active={delay}", "--unit=sparks-reboot", "--description=Reboot (sparks_reboot)"]
        + ["systemctl", "reboot"],
        python_shell=False,
    )
    if ret["retcode"] != 0:
        raise CommandExecutionError(f"could not schedule the reboot: {ret['stderr'].strip()}")
    return {"rebooting": True, "reasons": current["reasons"] or ["asked to"], "boot": current["boot"]}


def healthy(timeout=120):
    """Whether systemd finished booting with no failed unit (``systemctl is-system-running --wait``).

    Returns ``{"healthy": bool, "state": "running"|"degraded"|..., "failed": [units]}``.

    CLI Example:

    .. code-block:: bash

        salt node1 sparks_reboot.healthy
    """
    ret = __salt__["cmd.run_all"](
        ["systemctl", "is-system-running", "--wait"], python_shell=False, ignore_retcode=True, timeout=int(timeout)
    )
    state = ret["stdout"].strip() or "unknown"
    failed = __salt__["cmd.run_all"](
        ["systemctl", "list-units", "--failed", "--plain", "--no-legend", "--no-pager"],
        python_shell=False,
        ignore_retcode=True,
    )
    units = [re.split(r"\s+", line.strip())[0] for line in failed["stdout"].splitlines() if line.strip()]
    return {"healthy": state == "running" and not units, "state": state, "failed": units}
