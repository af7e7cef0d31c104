# Undo `dev`: remove its packages (dev_mini's stay; apply dev_mini.clean for those).
{%- from "dev/map.jinja" import dev %}

dev-clean-packages-removed:
  pkg.removed:
    - pkgs: {{ dev.packages | json }}
