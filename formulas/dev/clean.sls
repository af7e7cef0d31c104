# Undo `dev`: remove its packages (dev_mini's stay; apply dev_mini.clean for those). python3 itself stays: Salt
# runs on it (salt-ssh's thin, bootstrap/1nstall.py's venv), and removing it would take most of the system along.
{%- from "dev/map.jinja" import dev %}

dev-clean-packages-removed:
  pkg.removed:
    - pkgs: {{ dev.packages | reject("equalto", "python3") | list | json }}
