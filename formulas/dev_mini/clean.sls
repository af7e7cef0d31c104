# Undo `dev_mini`: remove git and make (users' ~/sources directories are left alone: they hold their work).
{%- from "dev_mini/map.jinja" import dev_mini %}

dev-mini-clean-packages-removed:
  pkg.removed:
    - pkgs: {{ dev_mini.packages | json }}
