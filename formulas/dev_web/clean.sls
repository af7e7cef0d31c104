# Undo `dev_web`: remove the global npm packages it installed, then its system packages.
{%- from "dev_web/map.jinja" import dev_web %}

{%- for package in dev_web.npm_packages %}

dev-web-clean-npm-{{ package.name }}-removed:
  sparks_npm.removed:
    - name: {{ package.name }}
    - require_in:
      - pkg: dev-web-clean-packages-removed
{%- endfor %}

dev-web-clean-packages-removed:
  pkg.removed:
    - pkgs: {{ dev_web.packages | json }}
