# Lean guest: purge packages a container does not need (man-db, ...) and autoremove what nothing depends on.
{%- from "lxc_purge/map.jinja" import lxc_purge %}

lxc-purge-packages-purged:
  pkg.purged:
    - pkgs: {{ lxc_purge.packages | json }}

lxc-purge-autoremoved:
  cmd.run:
    - name: apt-get autoremove --purge -y -q
    - env:
      - DEBIAN_FRONTEND: noninteractive
    # Only when apt would remove something, so a lean guest reports no change.
    - onlyif: apt-get -s autoremove --purge | grep -q '^Purg'
    - require:
      - pkg: lxc-purge-packages-purged
