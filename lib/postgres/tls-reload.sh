# The PostgreSQL pod's tls-reload sidecar. PostgreSQL reads its certificate and key at start and on a
# configuration reload only (PostgreSQL docs, "Secure TCP/IP Connections with SSL": the files are re-read
# when the configuration is reloaded), while cert-manager renews the certificate in its Secret, which the
# kubelet swaps into the mounted volume in one step. Every TLS_RELOAD_INTERVAL seconds this loop compares the
# mounted files with those it last saw the server load, and on a change asks the server to reload
# (pg_reload_conf(), over the pod's Unix socket as the superuser by peer: the only local line of our
# pg_hba.conf). A reload whose files are broken keeps the previous certificate in use (the postmaster
# logs "SSL configuration was not reloaded"; pg_reload_conf() cannot tell): the next change of the files,
# cert-manager's next issue, is reloaded again. A reload that cannot reach the server is tried again at each turn.
# The first turn reloads once too, so a renewal between the server's start and this loop's is not missed.
#   TLS_DIR               the mounted certificate (tls.crt, tls.key)
#   TLS_RELOAD_INTERVAL   seconds between two looks
#   TLS_RELOAD_SOCKET     the directory of the server's Unix socket
#   TLS_RELOAD_STATE      a writable directory: the loop's heartbeat (tls-reload.alive), which the probes read
set -uo pipefail
# bash is the container's PID 1, which the kernel sends no signal it has no handler for: without this trap
# a pod deletion would wait out terminationGracePeriodSeconds for the SIGKILL.
trap 'exit 0' TERM INT
loaded= first=1
while :; do
  printf '%s\n' "$EPOCHREALTIME" >"$TLS_RELOAD_STATE/tls-reload.alive"
  if current=$(cat "$TLS_DIR/tls.crt" "$TLS_DIR/tls.key" | sha256sum) && [[ $current != "$loaded" ]]; then
    # Bounded, so that a server that does not answer never stops the loop (and its heartbeat).
    if PGCONNECT_TIMEOUT=5 timeout 30 psql -X -q -A -t -h "$TLS_RELOAD_SOCKET" -U postgres -d postgres -c 'SELECT pg_reload_conf()' >/dev/null 2>"$TLS_RELOAD_STATE/tls-reload.err"; then
      [[ -n $loaded ]] && echo "$(date -u +%FT%TZ) the certificate in $TLS_DIR changed: PostgreSQL reloaded it"
      loaded=$current
    elif [[ -z $first ]]; then
      # Not on the first turn, which may come before the server accepts connections.
      echo "$(date -u +%FT%TZ) could not have PostgreSQL reload its certificate, trying again in ${TLS_RELOAD_INTERVAL} s: $(<"$TLS_RELOAD_STATE/tls-reload.err")" >&2
    fi
  fi
  first=
  sleep "$TLS_RELOAD_INTERVAL" &
  wait $!
done
