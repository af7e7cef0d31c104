# LXC server guest: lxc_base plus the server states listed in pillar (PostgreSQL by default).
{%- from "lxc_server/map.jinja" import lxc_server %}

include:
  - lxc_base
{%- for state in lxc_server.server_states %}
  - {{ state }}
{%- endfor %}
