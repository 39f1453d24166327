#!/usr/bin/env bash
# `kubectl` for the suites of the operator commands (test/support/fake-kubectl.ts): hands its command line, and
# its stdin where kubectl would read it (`-f -`, `exec -i`), to the fake cluster that the test process serves on
# FAKE_KUBECTL_PORT, then prints the answer and exits with its code. A shell script, not a node script: a deploy
# runs dozens of kubectl commands, and each node start costs ~0.1 s of CPU here (bash: ~2 ms).
set -u
exec 3<>"/dev/tcp/127.0.0.1/${FAKE_KUBECTL_PORT}" || exit 1
reply="${FAKE_KUBECTL_STATE}.reply.$$"
reads_stdin=0
previous=
for arg in "$@"; do
  if [[ "$previous $arg" == '-f -' || $arg == -i || $arg == --stdin ]]; then reads_stdin=1; fi
  previous=$arg
done
{
  printf '%s\0' "$FAKE_KUBECTL_STATE" "$reply" "$#" "$@"
  if ((reads_stdin)); then cat; fi
  printf '\0'
} >&3
# The answer is the exit code; the output is in two files beside the state (stopped by the caller meanwhile,
# as deploy stops a wait it no longer needs, this script simply ends).
read -r status <&3 || exit 1
cat "$reply.out"
cat "$reply.err" >&2
rm -f "$reply.out" "$reply.err"
exit "$status"
