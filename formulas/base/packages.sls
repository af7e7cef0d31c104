# Base and sysadmin packages in one transaction; desktop and telemetry cruft purged.
{%- from "base/map.jinja" import base %}

base-packages-installed:
  pkg.installed:
    - pkgs: {{ (base.packages + base.admin_packages) | unique | list | json }}
{%- if base.package_manager == "apt" %}
    - install_recommends: {{ base.install_recommends }}
    # Refresh the package index only when it is older than this, so re-runs stay offline and fast.
    - refresh: true
    - cache_valid_time: {{ base.package_index_max_age }}
{%- endif %}

{%- if base.useless_packages %}

base-packages-useless-purged:
  pkg.purged:
    - pkgs: {{ base.useless_packages | json }}
{%- endif %}
