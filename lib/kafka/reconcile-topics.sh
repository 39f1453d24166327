#!/bin/bash
# placeholder: replaced by the reconcile script (owned by the Kafka harness work)
set -euo pipefail
exit 1
