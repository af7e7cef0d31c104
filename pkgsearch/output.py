"""Formatting: table, plain lines, JSON, and the live per-manager progress lines."""

import json
import shutil

HEADERS = ("MANAGER", "NAME", "VERSION", "INSTALLED", "SUMMARY")


def _cells(p):
    return (p.manager, p.name, p.version or "-", p.installed or "-", p.summary or "")


def table(packages, width=None):
    if not packages:
        return ""
    width = width or shutil.get_terminal_size((120, 24)).columns
    rows = [HEADERS] + [_cells(p) for p in packages]
    widths = [min(max(len(r[i]) for r in rows), cap) for i, cap in enumerate((8, 40, 24, 24))]
    lines = []
    for row in rows:
        cells = [row[i][: widths[i]].ljust(widths[i]) for i in range(4)]
        line = "  ".join(cells) + "  " + row[4]
        if len(line) > width:
            line = line[: max(width - 1, 0)] + "\u2026"
        lines.append(line.rstrip())
    return "\n".join(lines) + "\n"


def plain(packages):
    """One tab-separated line per package: manager, name, version, installed, summary."""
    return "".join("\t".join(_cells(p)) + "\n" for p in packages)


def as_json(packages):
    return json.dumps([p.as_dict() for p in packages], indent=2, ensure_ascii=False) + "\n"


def describe(outcome):
    if outcome.status == "ok":
        n = len(outcome.packages)
        best = f" (best: {outcome.packages[0].name})" if n else ""
        return f"{n} found{best} in {outcome.elapsed:.2f}s"
    if outcome.status == "skipped":
        return f"skipped: {outcome.message}"
    return f"{outcome.status}: {outcome.message}"


class Progress:
    """One live line per manager on a terminal (stderr), rewritten as each one answers."""

    def __init__(self, stream, managers):
        self.stream = stream
        self.managers = list(managers)
        self.state = {m: "searching\u2026" for m in self.managers}
        self.width = shutil.get_terminal_size((100, 24)).columns
        self._draw(first=True)

    def _draw(self, first=False):
        if not first:
            self.stream.write(f"\x1b[{len(self.managers)}F")
        for m in self.managers:
            line = f"  {m:<7} {self.state[m]}"[: self.width - 1]
            self.stream.write("\x1b[2K" + line + "\n")
        self.stream.flush()

    def update(self, outcome):
        self.state[outcome.manager] = describe(outcome)
        self._draw()
