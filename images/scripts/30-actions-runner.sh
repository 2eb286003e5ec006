#!/bin/bash
# 30-actions-runner.sh: installs the GitHub Actions runner at a pinned version, checksum-verified,
# into /Users/admin/actions-runner, plus tart-fleet's start-jit-runner.sh and job-started-hook.sh
# (the pre-job guard of the trusted tier) beside it.
#
# GitHub refuses to register runners older than 2.329.0 (enforced from 25 Sep 2026) and expects each
# new release to be installed within 30 days: re-bake the image when the runner is released
# (images/README.md, "Upgrading the runner"). To move to another version, set both RUNNER_VERSION
# and RUNNER_SHA256 (the osx-arm64 SHA-256 from that release's notes), or edit the pins below.
#
# The pinned checksum comes from the v2.336.0 release notes as quoted by several independent public
# repositories; it was not downloaded and recomputed when this file was written (no Mac, no network).
set -euo pipefail

PINNED_VERSION="2.336.0"
PINNED_SHA256="8e8839c49b7060b6b2154f4931f815df330c27f167d53ef2239ee3dfce28b079"

RUNNER_VERSION="${RUNNER_VERSION:-$PINNED_VERSION}"
if [ "$RUNNER_VERSION" = "$PINNED_VERSION" ]; then
  RUNNER_SHA256="${RUNNER_SHA256:-$PINNED_SHA256}"
elif [ -z "${RUNNER_SHA256:-}" ]; then
  echo "RUNNER_VERSION=$RUNNER_VERSION needs RUNNER_SHA256 (actions-runner-osx-arm64 in the release notes)" >&2
  exit 2
fi

RUNNER_DIR="/Users/admin/actions-runner"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
START_SCRIPT="$HERE/../guest/start-jit-runner.sh"
HOOK_SCRIPT="$HERE/../guest/job-started-hook.sh"
URL="https://github.com/actions/runner/releases/download/v${RUNNER_VERSION}/actions-runner-osx-arm64-${RUNNER_VERSION}.tar.gz"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "==> actions runner $RUNNER_VERSION: downloading"
curl -fsSL --retry 3 -o "$tmp/runner.tar.gz" "$URL"
echo "${RUNNER_SHA256}  $tmp/runner.tar.gz" | shasum -a 256 -c - >/dev/null || {
  echo "checksum mismatch for $URL: refusing to install it" >&2
  exit 1
}

echo "==> actions runner: installing into $RUNNER_DIR"
rm -rf "$RUNNER_DIR"
mkdir -p "$RUNNER_DIR"
tar -xzf "$tmp/runner.tar.gz" -C "$RUNNER_DIR"

# Job steps get these through the runner's .env file (Runner.Listener applies it at start). PATH is
# here because tart-fleet starts the runner from a non-login SSH session, whose PATH lacks Homebrew
# (~/.zprofile, where the base image sets it, is read by login shells only).
cat >"$RUNNER_DIR/.env" <<ENV
LANG=en_US.UTF-8
PATH=/opt/homebrew/bin:/opt/homebrew/sbin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
HOMEBREW_NO_AUTO_UPDATE=1
HOMEBREW_NO_INSTALL_CLEANUP=1
ENV

echo "==> start-jit-runner.sh, job-started-hook.sh: installing"
install -m 0755 "$START_SCRIPT" "$RUNNER_DIR/start-jit-runner.sh"
install -m 0755 "$HOOK_SCRIPT" "$RUNNER_DIR/job-started-hook.sh"
"$RUNNER_DIR/bin/Runner.Listener" --version
echo "==> 30-actions-runner done"
