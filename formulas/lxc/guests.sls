# LXC guests from pillar `sparks:lxc:guests`: created from their template, static address on the lxc-net bridge, python3 + sshd + root's authorized keys for salt-ssh, autostart and memory limit, started.
{%- from "lxc/map.jinja" import lxc %}
{%- set prefix = lxc.net.subnet.split("/")[1] %}
{%- for name, guest in lxc.resolved | dictsort %}

lxc-guest-{{ name }}-present:
  sparks_lxc.present:
    - name: {{ name }}
    - template: {{ guest.template }}
    - release: {{ guest.release }}
    - address: {{ guest.address }}/{{ prefix }}
    - gateway: {{ lxc.net.address }}
    - subnet: {{ lxc.net.subnet }}
    - bridge: {{ lxc.net.bridge }}
    - autostart: {{ guest.autostart }}
    - memory_limit: {{ guest.memory_limit | json }}
    - running: {{ guest.running }}
    - packages: {{ lxc.guest_packages | json }}
    - authorized_keys: {{ lxc.authorized_keys | json }}
    - mirror: {{ lxc.mirror | json }}
    - security_mirror: {{ lxc.security_mirror | json }}
    - require:
      - sparks_lxc: lxc-net-bridge-running
{%- endfor %}
