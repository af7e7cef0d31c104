# Minimal development set: git, make, and a ~/sources directory for each user in pillar sparks:users.
{%- from "dev_mini/map.jinja" import dev_mini %}

dev-mini-packages-installed:
  pkg.installed:
    - pkgs: {{ dev_mini.packages | json }}
    - refresh: true
    - cache_valid_time: {{ dev_mini.package_index_max_age }}
    - install_recommends: false

{%- for user in salt["pillar.get"]("sparks:users", []) %}

dev-mini-{{ user }}-sources-directory:
  file.directory:
    - name: ~{{ user }}/{{ dev_mini.sources_dir }}
    - user: {{ user }}
    - mode: "0755"
{%- endfor %}
