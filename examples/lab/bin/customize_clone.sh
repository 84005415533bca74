#!/bin/sh
# alt_disk_copy phase 2 customization script (the altroot service's `script`):
# runs with the clone mounted; the simulator exports its root as DOPPEL_SIM_ALT_INST.
echo "customized by doppel" >> "${DOPPEL_SIM_ALT_INST:-/alt_inst}/etc/motd"
