#!/usr/bin/env bash
# Builds Prometheus' promtool (the alert rules' unit tests run `promtool test rules`) from the Go module
# proxy and prints the binary's path on stdout. Only cmd/promtool, with the build tag remove_all_sd that
# leaves out every service-discovery plugin (prometheus plugins/plugin_*.go): promtool's rule tests need
# none, and they are most of Prometheus' dependencies. Measured cold (module downloads included) on a
# loaded 2-core machine: 7 min 12 s; cached afterwards.
#
# Usage: build.sh [--locate]  (--locate prints the cached binary's path, or exits 3 when it is not built)
# Env: PROMETHEUS_MODULE_VERSION (default v0.316.0, the Go module version of Prometheus 3.16.0),
# LEARNFLOW_CACHE_DIR (default ~/.cache/learnflow-infra).
set -euo pipefail

version="${PROMETHEUS_MODULE_VERSION:-v0.316.0}"
source_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_dir="${LEARNFLOW_CACHE_DIR:-$HOME/.cache/learnflow-infra}/promtool-${version}"
binary="$cache_dir/promtool"

# shellcheck source=../cached-build.sh
source "$source_dir/../cached-build.sh"
cached_build_or_lock promtool "$binary" "$binary" "$cache_dir" "$@"

echo "promtool build: building github.com/prometheus/prometheus/cmd/promtool@${version}" >&2
started=$SECONDS
# go install module@version builds outside any module, with the module's own go.mod and go.sum.
GOBIN="$cache_dir/.partial" CGO_ENABLED=0 go install -tags remove_all_sd -trimpath -ldflags='-s -w' \
  "github.com/prometheus/prometheus/cmd/promtool@${version}"
# Moved only when complete, so an interrupted build is never taken for a cached binary.
mv "$cache_dir/.partial/promtool" "$binary"
rmdir "$cache_dir/.partial"
echo "promtool build: built in $((SECONDS - started)) s" >&2
echo "$binary"
