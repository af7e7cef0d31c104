# Undo `base`: remove its configuration files and the packages it installed.
{%- from "base/map.jinja" import base %}
{%- set packages = base.packages + base.admin_packages %}
{%- if base.package_manager == "apt" %}
{%-   if base.time.enabled %}{% do packages.append("systemd-timesyncd") %}{% endif %}
{%-   if base.restarts.enabled %}{% do packages.append("needrestart") %}{% endif %}
{%- endif %}

# journald keeps the limits it read until it next starts; timesyncd goes with its package.
base-clean-config-absent:
  file.absent:
    - names:
      - {{ base.sudo.file }}
      - /etc/apt/apt.conf.d/52sparks-unattended-upgrades
      - /etc/fail2ban/jail.d/sparks.local
      - /etc/systemd/timesyncd.conf.d/sparks.conf
      - /etc/systemd/journald.conf.d/sparks.conf
      - /etc/needrestart/conf.d/sparks.conf

base-clean-packages-removed:
  pkg.removed:
    - pkgs: {{ packages | reject("equalto", "sudo") | unique | list | json }}
    - require:
      - file: base-clean-config-absent
