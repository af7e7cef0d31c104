"""apt: a local index of apt's package lists, rebuilt automatically when they change.

`apt-cache search` walks its whole cache on every call (about a second). We read apt's own
list files (/var/lib/apt/lists/*_Packages*, plus *_Translation-* for long descriptions when
apt downloaded them) once, write one flat index file (name, version, summary, description per
line) to the cache directory, and search that file as bytes. The index carries the size and
mtime of every list file it was built from; when any of them differs (after `apt-get update`)
or the set of files changes, the next search rebuilds it first. Installed versions come from
dpkg's status file at every search, so they are never stale either.
"""

import glob
import gzip
import hashlib
import json
import lzma
import bz2
import os
import re
import shutil
import subprocess

from .. import debversion
from ..core import Package
from .base import Backend as _Base
from .base import BackendError

INDEX_FORMAT = 4
_LIST_RE = re.compile(r"_(Packages|i18n_Translation-[A-Za-z_]+)(\.(gz|xz|bz2|lz4|zst))?$")


def list_files(lists_dir):
    """apt's package and translation lists in lists_dir, sorted."""
    found = []
    for path in glob.glob(os.path.join(lists_dir, "*_*")):
        if _LIST_RE.search(os.path.basename(path)) and os.path.isfile(path):
            found.append(path)
    return sorted(found)


def signature(lists_dir):
    """What the index depends on: every list file's name, size, mtime and inode."""
    parts = [INDEX_FORMAT]
    for path in list_files(lists_dir):
        st = os.stat(path)
        # apt renames a freshly downloaded list into place: a new inode even if size and
        # mtime (apt copies the server's Last-Modified) happened to match.
        parts.append([os.path.basename(path), st.st_size, st.st_mtime_ns, st.st_ino])
    return json.dumps(parts, separators=(",", ":"))


def read_list(path):
    """The decompressed text of an apt list file, whatever apt compressed it with."""
    ext = os.path.splitext(path)[1]
    if ext == ".gz":
        data = gzip.open(path).read()
    elif ext == ".xz":
        data = lzma.open(path).read()
    elif ext == ".bz2":
        data = bz2.open(path).read()
    elif ext in (".lz4", ".zst"):
        # No stdlib decompressor: apt's own helper reads every format apt writes.
        helper = "/usr/lib/apt/apt-helper"
        if os.access(helper, os.X_OK):
            argv = [helper, "cat-file", path]
        else:
            tool = shutil.which("lz4" if ext == ".lz4" else "zstd")
            if not tool:
                raise BackendError(f"cannot decompress {path}: neither apt-helper nor {ext[1:]} found")
            argv = [tool, "-dc", path]
        proc = subprocess.run(argv, capture_output=True, check=False)
        if proc.returncode:
            raise BackendError(f"cannot decompress {path}: {proc.stderr.decode(errors='replace').strip()}")
        data = proc.stdout
    else:
        with open(path, "rb") as fh:
            data = fh.read()
    return data.decode("utf-8", "replace")


def _stanzas(text):
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields = {}
        key = None
        for line in block.split("\n"):
            if line[:1] in (" ", "\t"):
                if key:
                    fields[key] += "\n" + line[1:]
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        yield fields


def _clean(text):
    return " ".join(text.replace("\t", " ").split())


def build_index(lists_dir):
    """Return the index body: one 'name\\tversion\\tsummary\\tdescription\\tprovides\\n' line per
    package (as `apt-cache search` does, a match on a virtual package it provides counts)."""
    packages = {}  # name -> [version, summary, md5, long]
    translations = {}  # md5 or name -> long description
    for path in list_files(lists_dir):
        text = read_list(path)
        if "_Translation-" in path:
            for st in _stanzas(text):
                desc = next((v for k, v in st.items() if k.startswith("Description-") and k != "Description-md5"), "")
                long_desc = desc.partition("\n")[2]
                key = st.get("Description-md5") or st.get("Package")
                if key and long_desc:
                    translations[key] = long_desc
            continue
        for st in _stanzas(text):
            name = st.get("Package")
            version = st.get("Version", "")
            if not name:
                continue
            desc = st.get("Description", "")
            summary, _, long_desc = desc.partition("\n")
            current = packages.get(name)
            if current is None or debversion.compare(version, current[0]) > 0:
                provides = " ".join(p.split("(")[0].strip() for p in st.get("Provides", "").split(","))
                packages[name] = [version, summary, st.get("Description-md5", ""), long_desc, provides]
    lines = []
    for name in sorted(packages):
        version, summary, md5, long_desc, provides = packages[name]
        long_desc = long_desc or translations.get(md5) or translations.get(name, "")
        lines.append(f"{name}\t{version}\t{_clean(summary)}\t{_clean(long_desc)}\t{_clean(provides)}\n")
    return "".join(lines).encode("utf-8")


def load_index(options):
    """The index body as bytes, rebuilt first if apt's lists changed (or on --refresh)."""
    lists_dir = options.apt_lists
    if not os.path.isdir(lists_dir):
        raise BackendError(f"{lists_dir} does not exist")
    sig = signature(lists_dir).encode()
    key = hashlib.sha1(os.path.abspath(lists_dir).encode()).hexdigest()[:12]
    try:
        path = options.cache_path("apt", f"index-{key}")
    except OSError:
        path = None
    if path and not options.refresh:
        try:
            with open(path, "rb") as fh:
                header = fh.readline()
                if header.rstrip(b"\n") == sig:
                    return fh.read()
        except OSError:
            pass
    body = build_index(lists_dir)
    if path:
        try:
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(sig + b"\n")
                fh.write(body)
            os.replace(tmp, path)
        except OSError:
            pass  # an unwritable cache only costs speed
    return body


def installed_versions(status_path, names=None):
    """{package: version} of packages dpkg lists as installed (only ``names`` if given)."""
    try:
        with open(status_path, "rb") as fh:
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return {}
    found = {}
    for block in data.split("\n\n"):
        if "Status: install ok installed" not in block:
            continue
        m = re.search(r"^Package: (\S+)", block, re.M)
        if not m or (names is not None and m.group(1) not in names):
            continue
        v = re.search(r"^Version: (\S+)", block, re.M)
        found[m.group(1)] = v.group(1) if v else ""
    return found


def search_index(body, term):
    """[(name, version, summary, description_matched)] for lines where term occurs."""
    hay = body.lower()  # bytes.lower() touches ASCII only, so offsets stay valid
    needle = term.lower().encode()
    hits = []
    pos = hay.find(needle)
    while pos != -1:
        start = hay.rfind(b"\n", 0, pos) + 1
        end = hay.find(b"\n", pos)
        if end == -1:
            end = len(hay)
        fields = body[start:end].decode("utf-8", "replace").split("\t")
        if len(fields) >= 3:
            name, version, summary = fields[0], fields[1], fields[2]
            hits.append((name, version, summary, needle.decode() not in name.lower()))
        pos = hay.find(needle, end)
    return hits


class Backend(_Base):
    name = "apt"
    tools = ()

    def missing(self, options):
        if not os.path.isdir(options.apt_lists) or not list_files(options.apt_lists):
            return f"no apt package lists in {options.apt_lists}"
        return ""

    def search(self, term, options):
        body = load_index(options)
        hits = search_index(body, term)
        names = {h[0] for h in hits}
        installed = installed_versions(options.dpkg_status, names)
        return [Package("apt", name, version, summary, installed.get(name)) for name, version, summary, _ in hits]
