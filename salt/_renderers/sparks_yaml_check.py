"""
Name the file, line and column of a YAML error in a pillar file, wherever the pillar is compiled.

Salt reports a pillar file it cannot parse as ``Rendering SLS 'local' failed. Please see master log for details.``
(``pillar_safe_render_error``), and the log's full error quotes the lines around the mistake, which may be
passwords. This renderer sits in the pipe before ``yaml`` (``renderer: jinja|sparks_yaml_check|yaml`` in
salt/config/common.conf), so it runs where the pillar is compiled: by salt-call masterless, by the master for its
minions, and by salt-ssh on the machine running it. For a pillar file it parses the text with Salt's own YAML
loader first; when that fails, it hands ``yaml`` a pillar of one ``_errors`` entry instead, which stops every
state run with the message ``invalid pillar: <file>: line L, column C: <problem>`` and no contents of the file.
Anything else (state files, pillar that parses) passes through unchanged.

Line and column count in the text YAML reads: the file itself, unless it has Jinja, whose output they then count.
"""

import io
import json

import yaml

import salt.utils.yamlloader


def render(data, saltenv="base", sls="", argline="", **kwargs):  # pylint: disable=unused-argument
    text = data.read() if isinstance(data, io.IOBase) or hasattr(data, "read") else data
    if not kwargs.get("_pillar_rend"):
        return text
    problem = yaml_problem(text)
    if problem is None:
        return text
    where = kwargs.get("tmplpath") or f"pillar SLS {sls!r}"
    return "_errors:\n  - " + json.dumps(f"invalid pillar: {where}: {problem}") + "\n"


def yaml_problem(text):
    """``line L, column C: problem`` for YAML that Salt's loader refuses, else None. No text of the file."""
    try:
        salt.utils.yamlloader.load(text, Loader=salt.utils.yamlloader.SaltYamlSafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or "invalid YAML"
        if exc.context:
            what += f" ({exc.context})"
        if mark is None:
            return what
        return f"line {mark.line + 1}, column {mark.column + 1}: {what}"
    except yaml.YAMLError as exc:
        return f"invalid YAML: {type(exc).__name__}"
    return None
