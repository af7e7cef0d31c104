"""
A formula's merged settings for our Python modules: ``__utils__["sparks_map.get"](__salt__, "lxc")``.

The merge lives in one place, the formula's ``map.jinja`` (parameter files by OS, then pillar, then whatever the
map resolves on top, such as lxc's guests with their defaults). A module that needs the settings renders that
map through Salt's own renderer rather than merging pillar by hand: the module and the states then see the
same values by construction (tests/functional/test_map_agreement.py checks it for every formula and OS).

Only for execution modules run by a person or a runner (``sparks_lxc.roster``): one render costs a few file
server reads. States get their settings as arguments from SLS instead; and templates never call this (under
salt-ssh every execution-module call from a template is an SSH round trip).

Every formula's map.jinja sets a variable named after the formula (``{%- set lxc = ... %}``): that is the value.
Pillar is read unmasked (Salt turns masking off while it renders Jinja), so what a caller returns or logs on
purpose must still leave secrets out.
"""

import json
import re

__virtualname__ = "sparks_map"

_FORMULA = re.compile(r"[a-z][a-z0-9_]*\Z")


def __virtual__():
    return __virtualname__


def get(salt, formula, saltenv="base"):
    """The settings of ``formula`` as its map.jinja merges them, as plain data."""
    if not _FORMULA.match(formula):
        raise ValueError(f"not a formula name: {formula!r}")
    text = salt["slsutil.renderer"](
        string=f'{{%- from "{formula}/map.jinja" import {formula} %}}{{{{ {formula} | json }}}}',
        default_renderer="jinja",
        saltenv=saltenv,
    )
    return json.loads(text)
