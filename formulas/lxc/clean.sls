# Undo `lxc`: the guests declared in pillar stopped and destroyed, lxc-net stopped (bridge and firewall rules gone) and disabled, the packages removed.
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

# Disabled rather than deleted: without this file lxc-net falls back to its built-in 10.0.3.0/24 the next time
# it starts (or the package is installed again), which must not happen on networks that already use it.
lxc-clean-net-config-disabled:
  file.managed:
    - name: {{ lxc.net.config_file }}
    - contents: |
        # Left by sparks (lxc.clean): lxc-net stays down until the lxc formula configures it again.
        USE_LXC_BRIDGE="false"
    - mode: "0644"
    - require:
      - sparks_lxc: lxc-clean-net-bridge-dead

lxc-clean-packages-removed:
  pkg.removed:
    - pkgs: {{ ["lxc", "lxc-templates"] | json }}
    - require:
      - file: lxc-clean-net-config-disabled
