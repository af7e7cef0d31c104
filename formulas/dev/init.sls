# Development machine: dev_mini plus git-flow, ack, Python 3 with headers, pip, venv, virtualenvwrapper, gettext, build tools.
{%- from "dev/map.jinja" import dev %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}

include:
  - dev_mini

{{ packages_installed("dev-packages-installed", dev, args=[{"require": [{"pkg": "dev-mini-packages-installed"}]}]) }}
