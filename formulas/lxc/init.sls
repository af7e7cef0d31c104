# LXC host: lxc and its tools in one transaction, lxc-net from pillar, the pillar's guests created and started.
include:
  - lxc.net
  - lxc.guests
