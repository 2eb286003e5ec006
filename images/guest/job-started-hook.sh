#!/bin/bash
# job-started-hook.sh: the runner's ACTIONS_RUNNER_HOOK_JOB_STARTED, installed in the golden image at
# /Users/admin/actions-runner/job-started-hook.sh (start-jit-runner.sh points the runner at it).
#
# The runner runs it in "Set up job", before any step of the workflow, with the job's GITHUB_*
# variables. On a trusted-tier VM (TF_TRUST=trusted, or TF_TRUST unset: the stricter reading) it
# fails the job when the job comes from code a stranger controls:
#   - pull_request_target (runs with the base repository's secrets, whatever the PR contains);
#   - pull_request, pull_request_review, pull_request_review_comment whose head repository is not the
#     base repository (a fork), or is gone (a deleted fork);
#   - workflow_run triggered by a run whose head repository is a fork (the classic way fork content
#     reaches a privileged workflow).
# On an untrusted-tier VM it does nothing: that tier exists to run such jobs.
#
# This is defence in depth, not the boundary. The boundary is GitHub's: the trusted tier's runner
# group does not admit public repositories, fork pull requests need approval, and no workflow uses
# pull_request_target on self-hosted labels (SECURITY.md). A pull request cannot edit this hook: it
# lives in the image, and the runner runs it before the job's own steps.
#
# Exit codes: 0 the job may run; 1 refused (the job fails with the reason in its log).
#
# Gotchas:
# - The event JSON is read with jq (macOS 15+ ships /usr/bin/jq) or else plutil (every macOS). With
#   neither, or an unreadable event, a trusted VM refuses the job: fail closed.
# - plutil's key paths are dot-separated, so only plain keys are read (all of the ones here are).
# - A JSON null (a deleted fork's head.repo) reads as empty, which counts as "not the base repo".
set -euo pipefail

TRUST="${TF_TRUST:-trusted}"
EVENT="${GITHUB_EVENT_NAME:-}"
EVENT_FILE="${GITHUB_EVENT_PATH:-}"

refuse() {
  echo "::error::tart-fleet: this runner is in the trusted tier and does not run $1. Run it on the untrusted tier's labels, or on GitHub-hosted runners."
  exit 1
}

# Prints the string at a dotted key path of the event, or nothing when it is missing or null.
event_get() {
  local path="$1"
  if command -v jq >/dev/null 2>&1; then
    jq -r --arg p "$path" 'getpath($p | split(".")) // empty | strings' "$EVENT_FILE"
  elif command -v plutil >/dev/null 2>&1; then
    plutil -extract "$path" raw -o - "$EVENT_FILE" 2>/dev/null || true
  else
    return 2
  fi
}

if [ "$TRUST" = untrusted ]; then
  echo "tart-fleet: untrusted tier; no event restrictions"
  exit 0
fi

if [ -z "$EVENT" ]; then
  refuse "a job whose event is unknown (GITHUB_EVENT_NAME is not set)"
fi

# Reads KEY into the variable named by $1; refuses when the event cannot be read at all.
read_event() {
  local name="$1" key="$2" value
  if [ -z "$EVENT_FILE" ] || [ ! -r "$EVENT_FILE" ]; then
    refuse "a $EVENT job whose event payload cannot be read (GITHUB_EVENT_PATH)"
  fi
  local rc=0
  value="$(event_get "$key")" || rc=$?
  if [ "$rc" = 2 ]; then
    refuse "a $EVENT job: neither jq nor plutil is available to read its event payload"
  elif [ "$rc" != 0 ]; then
    refuse "a $EVENT job whose event payload is not readable JSON"
  fi
  printf -v "$name" '%s' "$value"
}

case "$EVENT" in
  pull_request_target)
    refuse "pull_request_target jobs (they run a pull request's context with the base repository's secrets)"
    ;;
  pull_request | pull_request_review | pull_request_review_comment)
    read_event head pull_request.head.repo.full_name
    read_event base pull_request.base.repo.full_name
    [ -n "$base" ] || read_event base repository.full_name
    if [ -z "$head" ] || [ -z "$base" ] || [ "$head" != "$base" ]; then
      refuse "pull requests from forks ($EVENT from ${head:-a deleted repository} into ${base:-?})"
    fi
    ;;
  workflow_run)
    read_event head workflow_run.head_repository.full_name
    read_event base repository.full_name
    if [ -z "$head" ] || [ -z "$base" ] || [ "$head" != "$base" ]; then
      refuse "workflow_run jobs started by a fork's run (${head:-a deleted repository} into ${base:-?})"
    fi
    ;;
esac

echo "tart-fleet: trusted tier; $EVENT job allowed"
exit 0
