# Web development: Node.js + npm with global npm packages, Ruby + ruby-dev + bundler with gems (lists in pillar).
{%- from "dev_web/map.jinja" import dev_web %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}

{{ packages_installed("dev-web-packages-installed", dev_web) }}

{%- for package in dev_web.npm_packages %}

dev-web-npm-{{ package.name }}-installed:
  sparks_npm.installed:
    - name: {{ package.name }}
{%- if package.get("version") %}
    - version: "{{ package.version }}"
{%- endif %}
{%- if dev_web.npm_registry %}
    - registry: {{ dev_web.npm_registry }}
{%- endif %}
    - require:
      - pkg: dev-web-packages-installed
{%- endfor %}

{%- for gem in dev_web.gems %}

dev-web-gem-{{ gem.name }}-installed:
  sparks_gem.installed:
    - name: {{ gem.name }}
{%- if gem.get("version") %}
    - version: "{{ gem.version }}"
{%- endif %}
{%- if gem.get("source") or dev_web.gem_source %}
    - source: {{ gem.get("source") or dev_web.gem_source }}
{%- endif %}
    - require:
      - pkg: dev-web-packages-installed
{%- endfor %}
