#!/usr/bin/env bash
# SOCKSHIM_FAULTS, 5% loss each way: 32 MiB each way between the shim (the
# stack service) and a kernel peer, sha256 equal (tests/faults.sh, part 5).
FAULT_PART=5 exec bash "$(dirname "$0")/faults.sh"
