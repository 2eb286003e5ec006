#!/bin/bash
# start-jit-runner.sh: tart-fleet's vm.runner_command, installed in the golden image at
# /Users/admin/actions-runner/start-jit-runner.sh.
#
# tart-fleet runs it once over SSH with the encoded JIT runner config on stdin. It:
#   1. reads the config from stdin (never argv: argv shows up in `ps` for every user);
#   2. starts run.sh detached, with the config only in the runner process's environment as
#      ACTIONS_RUNNER_INPUT_JITCONFIG (the runner reads that variable and removes it);
#   3. returns at once with exit 0, so the SSH session ends;
#   4. when the runner exits (job done, or tart-fleet deleted the runner), powers the guest off,
#      which tart-fleet sees as the VM stopping.
#
# Exit codes: 0 started; 2 no or malformed config on stdin; 3 run.sh missing; 4 already started.
#
# Gotchas:
# - Every file descriptor of the detached part points away from the SSH channel (stdin from
#   /dev/null, output to the log), otherwise sshd waits for it and the command never "returns".
# - macOS has no setsid(1): SIGHUP is ignored instead (what nohup does), and inherited by run.sh.
# - The config is kept in a shell variable that is never exported, so neither this script's
#   environment nor the supervisor's holds it; only run.sh's does.
# - The runner lives in the SSH session's launchd namespace, not admin's GUI (Aqua) session. Jobs
#   that need the GUI session (simulators, keychain signing) may need `launchctl asuser` instead;
#   not done here, and not tried on a Mac.
# - The TF_GUEST_* variables exist for tests on Linux; production uses the defaults.
set -euo pipefail

RUNNER_DIR="${TF_GUEST_RUNNER_DIR:-/Users/admin/actions-runner}"
SHUTDOWN_COMMAND="${TF_GUEST_SHUTDOWN_COMMAND:-sudo /sbin/shutdown -h now}"
CACHE_DIR="${TF_GUEST_CACHE_DIR:-/Volumes/My Shared Files/cache}"
LOG_FILE="${TF_GUEST_LOG_FILE:-${RUNNER_DIR}/_diag/start-jit-runner.log}"
PID_FILE="${RUNNER_DIR}/.jit-runner.pid"

if [ -t 0 ]; then
  echo "start-jit-runner: pipe the encoded JIT config on stdin" >&2
  exit 2
fi
jit_config="$(cat)"
# The config is base64: drop whitespace and line breaks a transport may have added.
jit_config="${jit_config//[$' \t\r\n']/}"
if [ -z "$jit_config" ]; then
  echo "start-jit-runner: no JIT config on stdin" >&2
  exit 2
fi
if [[ ! "$jit_config" =~ ^[A-Za-z0-9+/=_-]+$ ]]; then
  # Never echo it: even a malformed config may hold a credential.
  echo "start-jit-runner: stdin is not an encoded JIT config (expected base64)" >&2
  exit 2
fi
if [ ! -x "$RUNNER_DIR/run.sh" ]; then
  echo "start-jit-runner: $RUNNER_DIR/run.sh not found or not executable; is the runner installed in the image?" >&2
  exit 3
fi
if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  # A second session with the same config would only end in SessionConflict.
  echo "start-jit-runner: a runner is already running in this VM (pid $(cat "$PID_FILE"))" >&2
  exit 4
fi

mkdir -p "$(dirname "$LOG_FILE")"

# Dependency caches live on the host's cache share when tart-fleet mounted it; job steps inherit
# the runner's environment. Without the share the tools keep their defaults inside the VM.
if [ -d "$CACHE_DIR" ] && [ -w "$CACHE_DIR" ]; then
  export npm_config_cache="$CACHE_DIR/npm"
  export YARN_CACHE_FOLDER="$CACHE_DIR/yarn"
  export PIP_CACHE_DIR="$CACHE_DIR/pip"
  export HOMEBREW_CACHE="$CACHE_DIR/homebrew"
  export PUB_CACHE="$CACHE_DIR/pub"
  export GRADLE_USER_HOME="$CACHE_DIR/gradle"
  export TF_CACHE_DIR="$CACHE_DIR"
fi

(
  trap '' HUP
  cd "$RUNNER_DIR"
  echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') start-jit-runner: starting run.sh"
  ACTIONS_RUNNER_INPUT_JITCONFIG="$jit_config" ./run.sh </dev/null &
  runner_pid=$!
  jit_config=''
  echo "$runner_pid" >"$PID_FILE"
  status=0
  wait "$runner_pid" || status=$?
  rm -f "$PID_FILE"
  echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') start-jit-runner: run.sh exited with $status; powering off"
  # The VM is single-use: powering off is how tart-fleet learns the job is over.
  bash -c "$SHUTDOWN_COMMAND" || echo "start-jit-runner: shutdown command failed" >&2
) </dev/null >>"$LOG_FILE" 2>&1 &
disown
jit_config=''

echo "start-jit-runner: runner started; log in $LOG_FILE"
exit 0
