# Base and sysadmin packages in one transaction; desktop and telemetry cruft purged.
{%- from "base/map.jinja" import base %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}
{#- What the other base states need is installed here too, so the whole role is a single apt transaction. #}
{%- set packages = base.packages + base.admin_packages %}
{%- if base.package_manager == "apt" %}
{%-   if base.unattended_upgrades.enabled %}{% do packages.append("unattended-upgrades") %}{% endif %}
{%-   if base.locale.enabled %}{% do packages.append("locales") %}{% endif %}
{%-   if base.fail2ban.enabled and "fail2ban" in packages %}{% do packages.append("python3-systemd") %}{% endif %}
{%-   if base.time.enabled %}{% do packages.append("systemd-timesyncd") %}{% endif %}
{%-   if base.restarts.enabled %}{% do packages.append("needrestart") %}{% endif %}
{%- endif %}

{{ packages_installed("base-packages-installed", base, pkgs=packages | unique | list) }}

{%- if base.useless_packages %}

base-packages-useless-purged:
  pkg.purged:
    - pkgs: {{ base.useless_packages | json }}
{%- endif %}
