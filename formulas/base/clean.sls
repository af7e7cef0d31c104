# Undo `base`: remove its configuration files and the packages it installed.
{%- from "base/map.jinja" import base %}

base-clean-config-absent:
  file.absent:
    - names:
      - {{ base.sudo.file }}
      - /etc/apt/apt.conf.d/52sparks-unattended-upgrades
      - /etc/fail2ban/jail.d/sparks.local

base-clean-packages-removed:
  pkg.removed:
    - pkgs: {{ (base.packages + base.admin_packages) | reject("equalto", "sudo") | unique | list | json }}
    - require:
      - file: base-clean-config-absent
