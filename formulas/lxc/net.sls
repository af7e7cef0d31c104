# LXC host packages and lxc-net (bridge, subnet, DHCP range from pillar); a changed setting restarts lxc-net, nothing else does.
{%- from "lxc/map.jinja" import lxc %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}
{#- The netmask of the subnet's prefix, worked out here: an execution function (network.convert_cidr) would cost
    salt-ssh a round trip to the machine on every render. #}
{%- set prefix = lxc.net.subnet.split("/")[1] | int %}
{%- set octets = [] %}
{%- for i in range(4) %}
{%-   do octets.append(256 - 2 ** (8 - ([[prefix - 8 * i, 0] | max, 8] | min))) %}
{%- endfor %}
{%- set netmask = octets | join(".") %}

# Written before the packages: on systemd machines the lxc package starts lxc-net when it is installed, and
# it must come up on our subnet, never on LXC's default 10.0.3.0/24. apt keeps this file (--force-confold).
lxc-net-config-file-managed:
  file.managed:
    - name: {{ lxc.net.config_file }}
    - source: salt://lxc/files/lxc-net.jinja
    - template: jinja
    - makedirs: true
    - mode: "0644"
    - context:
        net: {{ lxc.net | json }}
        netmask: {{ netmask }}

{{ packages_installed("lxc-packages-installed", lxc, args=[{"require": [{"file": "lxc-net-config-file-managed"}]}]) }}

# Our own state rather than service.running: it compares the running lxc-net (bridge address, dnsmasq's DHCP
# range) with the settings, so a changed file restarts lxc-net and an unchanged one touches nothing. It uses
# systemd where it runs, else lxc-net's own script (containers without an init system, like CI's).
lxc-net-bridge-running:
  sparks_lxc.net_running:
    - name: {{ lxc.net.bridge }}
    - address: {{ lxc.net.address }}/{{ lxc.net.subnet.split("/")[1] }}
    - dhcp_range: {{ lxc.net.dhcp_range | json }}
    - dhcp_max: {{ lxc.net.dhcp_max }}
    - domain: {{ lxc.net.domain | json }}
    - require:
      - pkg: lxc-packages-installed
      - file: lxc-net-config-file-managed
