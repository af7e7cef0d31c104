# Minimal development set: git, make, and a ~/sources directory for each user in pillar sparks:users.
{%- from "dev_mini/map.jinja" import dev_mini %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}

{{ packages_installed("dev-mini-packages-installed", dev_mini) }}

{%- for user in salt["pillar.get"]("sparks:users", []) %}

dev-mini-{{ user }}-sources-directory:
  file.directory:
    - name: ~{{ user }}/{{ dev_mini.sources_dir }}
    - user: {{ user }}
    - mode: "0755"
{%- endfor %}
