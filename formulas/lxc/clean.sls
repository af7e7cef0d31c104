# Undo `lxc`: the guests declared in pillar stopped and destroyed, lxc-net stopped (bridge and firewall rules gone), its settings file and the packages removed.
{%- from "lxc/map.jinja" import lxc %}
{%- for name in lxc.guests | sort %}

lxc-clean-guest-{{ name }}-absent:
  sparks_lxc.absent:
    - name: {{ name }}
    - require_in:
      - sparks_lxc: lxc-clean-net-bridge-dead
{%- endfor %}

lxc-clean-net-bridge-dead:
  sparks_lxc.net_dead:
    - name: {{ lxc.net.bridge }}

lxc-clean-net-config-absent:
  file.absent:
    - name: {{ lxc.net.config_file }}
    - require:
      - sparks_lxc: lxc-clean-net-bridge-dead

lxc-clean-packages-removed:
  pkg.removed:
    - pkgs: {{ ["lxc", "lxc-templates"] | json }}
    - require:
      - file: lxc-clean-net-config-absent
