# Development machine: dev_mini plus git-flow, ack, Python 3 with headers, pip, venv, virtualenvwrapper, gettext, build tools.
{%- from "dev/map.jinja" import dev %}

include:
  - dev_mini

dev-packages-installed:
  pkg.installed:
    - pkgs: {{ dev.packages | json }}
    - refresh: true
    - cache_valid_time: {{ dev.package_index_max_age }}
    - install_recommends: false
    - require:
      - pkg: dev-mini-packages-installed
