"""
The `gazette` project (tests/support/projects/gazette/: real files) as a git repository of four revisions: v1,
v2, v3, and `broken` between v1 and v2, whose /health/ answers 500. Only gazette/version.py and the stylesheet
(so its hashed name) differ.
"""

import pathlib
import shutil
import subprocess

from tests.support.django_projects import GIT, commit_and_tag

PROJECT = pathlib.Path(__file__).resolve().parent / "projects" / "gazette"
GAZETTE_REPO = "/srv/src/gazette.git"  # where tests/integration/test_django_gazette.py writes it in the target
REVISIONS = {"v1": True, "broken": False, "v2": True, "v3": True}  # tag -> healthy, in commit order


def make_gazette_repository(path):
    """Write the repository under ``path``; returns the commit of each tag."""
    path = pathlib.Path(path)
    shutil.copytree(PROJECT, path, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([*GIT, "init", "--quiet", str(path)], check=True)
    commits = {}
    for tag, healthy in REVISIONS.items():
        (path / "gazette" / "version.py").write_text(f'VERSION = "{tag}"\nHEALTHY = {healthy}\n')
        (path / "gazette" / "static" / "gazette" / "site.css").write_text(f"body {{ color: #222; }} /* {tag} */\n")
        commits[tag] = commit_and_tag(path, tag, f"gazette {tag}")
    return commits
