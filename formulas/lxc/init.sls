# LXC host: lxc, templates and debootstrap in one transaction, lxc-net's bridge and subnet from pillar, guests from pillar created, provisioned for salt-ssh and started.
include:
  - lxc.net
  - lxc.guests
