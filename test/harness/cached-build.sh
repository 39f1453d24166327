# Sourced by the harness build scripts (dapr-components, control-plane): the cache-or-lock preamble.
#
# cached_build_or_lock <name> <ready-file> <output> <cache-dir> [--locate]
# Prints <output> and exits 0 when <ready-file> is built. Otherwise: with --locate, exits 3 (test workers
# only locate builds; the engine preparation builds them); else takes the cache directory's lock, so that
# one process builds while the others wait and then reuse the result, and returns to the caller to build.
cached_build_or_lock() {
  local name="$1" ready="$2" output="$3" cache_dir="$4" mode="${5:-}"
  if [[ -x "$ready" ]]; then
    echo "$output"
    exit 0
  fi
  [[ "$mode" != --locate ]] || { echo "$name build: not built yet ($output)" >&2; exit 3; }
  command -v go >/dev/null || { echo "$name build: go is not on PATH" >&2; exit 1; }
  mkdir -p "$cache_dir"
  exec 9>"$cache_dir/.lock"
  flock 9
  if [[ -x "$ready" ]]; then
    echo "$output"
    exit 0
  fi
}
