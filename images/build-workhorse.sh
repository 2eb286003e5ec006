#!/bin/bash
# build-workhorse.sh: builds the golden image on the Mac host (not in a VM). Clones a Cirrus Labs
# base, boots it headless, copies scripts/ and guest/ in over SSH, runs scripts/[0-9]*.sh in order,
# and shuts the VM down. The result is a local Tart VM named NAME that tart-fleet clones per job.
#
#   images/build-workhorse.sh [NAME]        # default NAME: workhorse
#
# Environment: BASE_IMAGE (default ghcr.io/cirruslabs/macos-sequoia-base:latest), CPU (4),
# MEMORY_MB (8192), DISK_GB (disk can only grow; unset keeps the base's), GUEST_USER (admin),
# GUEST_PASSWORD (admin: the Cirrus Labs default; used only when sshpass is installed, otherwise
# ssh asks once and reuses the connection), FORCE=1 to replace an existing NAME.
#
# Gotchas: `tart run` has no SIGTERM handler, so the VM is stopped with a guest shutdown or
# `tart stop`, never by killing tart. A new MAC per clone needs a short DHCP lease on the host
# (docs/real-mac-guide.md).
set -euo pipefail

NAME="${1:-workhorse}"
BASE_IMAGE="${BASE_IMAGE:-ghcr.io/cirruslabs/macos-sequoia-base:latest}"
GUEST_USER="${GUEST_USER:-admin}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

command -v tart >/dev/null || { echo "tart not found: brew install cirruslabs/cli/tart" >&2; exit 1; }

if tart list --source local --quiet | grep -qx "$NAME"; then
  if [ "${FORCE:-0}" != 1 ]; then
    echo "a VM named $NAME exists; FORCE=1 replaces it" >&2
    exit 1
  fi
  tart delete "$NAME"
fi

echo "==> clone $BASE_IMAGE -> $NAME"
tart clone "$BASE_IMAGE" "$NAME"
tart set "$NAME" --cpu "${CPU:-4}" --memory "${MEMORY_MB:-8192}"
if [ -n "${DISK_GB:-}" ]; then tart set "$NAME" --disk-size "$DISK_GB"; fi

echo "==> boot $NAME (headless)"
log="$(mktemp -t tart-build)"
tart run "$NAME" --no-graphics >"$log" 2>&1 &
tart_pid=$!
stop_vm() {
  if kill -0 "$tart_pid" 2>/dev/null; then tart stop "$NAME" >/dev/null 2>&1 || true; fi
}
trap stop_vm EXIT

ip="$(tart ip "$NAME" --wait 180)"
echo "    $NAME is at $ip"

control="$(mktemp -d)/ssh-%r@%h"
ssh_opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
  -o ControlMaster=auto -o "ControlPath=$control" -o ControlPersist=15m -o ConnectTimeout=5)
ssh_cmd=(ssh "${ssh_opts[@]}")
if command -v sshpass >/dev/null; then
  export SSHPASS="${GUEST_PASSWORD:-admin}"
  ssh_cmd=(sshpass -e ssh "${ssh_opts[@]}")
fi
guest() { "${ssh_cmd[@]}" "$GUEST_USER@$ip" "$@"; }

echo "==> wait for SSH"
for _ in $(seq 1 60); do
  if guest true 2>/dev/null; then break; fi
  sleep 2
done
guest true

echo "==> copy scripts/ and guest/"
tar -C "$HERE" -cf - scripts guest | guest 'rm -rf /tmp/tf-provision && mkdir -p /tmp/tf-provision && tar -xf - -C /tmp/tf-provision'

for script in "$HERE"/scripts/[0-9]*.sh; do
  name="$(basename "$script")"
  echo "==> run $name"
  guest "bash /tmp/tf-provision/scripts/$name"
done

echo "==> shut down"
guest 'sudo shutdown -h now' || true
wait "$tart_pid" || true
trap - EXIT
echo "==> $NAME is ready: set vm.image (or a profile's image) to $NAME in pipeline.yml"
