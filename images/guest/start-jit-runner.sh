#!/bin/bash
# start-jit-runner.sh: tart-fleet's vm.runner_command, installed in the golden image at
# /Users/admin/actions-runner/start-jit-runner.sh.
#
# tart-fleet runs it once over SSH with the encoded JIT runner config on stdin. It:
#   1. reads the config from stdin (never argv: argv shows up in `ps` for every user);
#   2. starts run.sh detached, with the config only in the runner process's environment as
#      ACTIONS_RUNNER_INPUT_JITCONFIG (Runner.Listener clears it from its own environment only:
#      run.sh keeps it, and job steps run as the same user, so a job can read its own runner's
#      config; that credential is good for that one job only);
#   3. returns at once with exit 0, so the SSH session ends;
#   4. when the runner exits (job done, or tart-fleet deleted the runner), powers the guest off,
#      which tart-fleet sees as the VM stopping.
#
# tart-fleet passes the profile's tier in front of the command: `TF_TRUST=trusted|untrusted
# TF_CACHE=rw|ro|none|clone <runner_command>`. Absent (an older host) means trusted/rw. The tier decides
# how job steps may use the host's cache share (images/README.md, "Caches, per tier") and arms the
# pre-job guard job-started-hook.sh (ACTIONS_RUNNER_HOOK_JOB_STARTED) on trusted VMs.
#
# Exit codes: 0 started; 2 no or malformed config on stdin; 3 run.sh or the job-started hook missing;
# 4 already started; 5 TF_TRUST or TF_CACHE has a value this script does not know.
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
# - The runner is started from a non-login SSH session, whose PATH lacks Homebrew: PATH is set here
#   (and in the runner's .env by 30-actions-runner.sh, which the runner applies to every job step).
# - GRADLE_USER_HOME is never pointed into the share, in any mode: it is a config home whose
#   init.d/*.gradle scripts every build runs. Gradle reads shared dependencies through
#   GRADLE_RO_DEP_CACHE (read-only by design) instead.
# - A share that is mounted but not writable is used for reading only, whatever TF_CACHE says; an
#   untrusted VM never points tools at a shared read-write cache either (TF_CACHE=rw there is read
#   as ro). Only the host's mount mode stops a root job writing the share itself.
# - The TF_GUEST_* variables exist for tests on Linux; production uses the defaults.
set -euo pipefail

RUNNER_DIR="${TF_GUEST_RUNNER_DIR:-/Users/admin/actions-runner}"
SHUTDOWN_COMMAND="${TF_GUEST_SHUTDOWN_COMMAND:-sudo /sbin/shutdown -h now}"
CACHE_DIR="${TF_GUEST_CACHE_DIR:-/Volumes/My Shared Files/cache}"
LOG_FILE="${TF_GUEST_LOG_FILE:-${RUNNER_DIR}/_diag/start-jit-runner.log}"
PID_FILE="${RUNNER_DIR}/.jit-runner.pid"
HOOK="${RUNNER_DIR}/job-started-hook.sh"
TRUST="${TF_TRUST:-trusted}"
CACHE_MODE="${TF_CACHE:-rw}"

# Homebrew first, as a login shell would have it (the SSH session is not one).
export PATH="/opt/homebrew/bin:/opt/homebrew/sbin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin${PATH:+:$PATH}"

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
case "$TRUST" in
  trusted | untrusted) ;;
  *)
    echo "start-jit-runner: TF_TRUST must be trusted or untrusted" >&2
    exit 5
    ;;
esac
case "$CACHE_MODE" in
  rw | ro | none | clone) ;;
  *)
    echo "start-jit-runner: TF_CACHE must be rw, ro, none or clone" >&2
    exit 5
    ;;
esac

if [ ! -x "$RUNNER_DIR/run.sh" ]; then
  echo "start-jit-runner: $RUNNER_DIR/run.sh not found or not executable; is the runner installed in the image?" >&2
  exit 3
fi
if [ ! -f "$HOOK" ]; then
  # Without it a trusted VM would run fork pull requests unguarded: refuse rather than start.
  echo "start-jit-runner: $HOOK not found; is the image built with images/scripts/30-actions-runner.sh?" >&2
  exit 3
fi
if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  # A second session with the same config would only end in SessionConflict.
  echo "start-jit-runner: a runner is already running in this VM (pid $(cat "$PID_FILE"))" >&2
  exit 4
fi

mkdir -p "$(dirname "$LOG_FILE")"

# How job steps use the host's cache share (images/README.md, "Caches, per tier"):
#   write: tools keep their caches in the share (trusted rw: shared by every job of the tier;
#          clone: a private copy the host made for this job and deletes after it);
#   read:  tools keep their caches in the VM (so per job), and read the share only where the tool
#          has a read-only input (pip --find-links, Gradle's read-only dependency cache);
#   none:  no share; tools keep their in-VM defaults.
share_use=none
if [ "$CACHE_MODE" != none ] && [ -d "$CACHE_DIR" ]; then
  if [ "$CACHE_MODE" = ro ] || [ ! -w "$CACHE_DIR" ] || { [ "$CACHE_MODE" = rw ] && [ "$TRUST" = untrusted ]; }; then
    share_use='read'
  else
    share_use='write'
  fi
fi

# Never inherited from anywhere: each is set below only when the share may be written.
unset npm_config_cache YARN_CACHE_FOLDER PIP_CACHE_DIR PIP_FIND_LINKS HOMEBREW_CACHE PUB_CACHE \
  GRADLE_USER_HOME GRADLE_RO_DEP_CACHE TF_CACHE_DIR TF_CACHE_RO_DIR
case "$share_use" in
  write)
    export npm_config_cache="$CACHE_DIR/npm"
    export YARN_CACHE_FOLDER="$CACHE_DIR/yarn"
    export PIP_CACHE_DIR="$CACHE_DIR/pip"
    export HOMEBREW_CACHE="$CACHE_DIR/homebrew"
    export PUB_CACHE="$CACHE_DIR/pub"
    export TF_CACHE_DIR="$CACHE_DIR"
    effective_cache="$CACHE_MODE"
    ;;
  read)
    export TF_CACHE_RO_DIR="$CACHE_DIR"
    if [ -d "$CACHE_DIR/pip-wheels" ]; then export PIP_FIND_LINKS="$CACHE_DIR/pip-wheels"; fi
    effective_cache=ro
    ;;
  none)
    effective_cache=none
    ;;
esac
if [ "$share_use" != none ] && [ -d "$CACHE_DIR/gradle-ro" ]; then
  export GRADLE_RO_DEP_CACHE="$CACHE_DIR/gradle-ro"
fi
# Job steps (and the hook) see the tier this VM really got.
export TF_TRUST="$TRUST"
export TF_CACHE="$effective_cache"
export ACTIONS_RUNNER_HOOK_JOB_STARTED="$HOOK"

(
  trap '' HUP
  cd "$RUNNER_DIR"
  echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') start-jit-runner: starting run.sh (trust $TF_TRUST, cache $TF_CACHE requested $CACHE_MODE)"
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
