#!/usr/bin/env bash
# Regenerates the committed syscall bindings src/sys/bindings/<target>.rs.
#
#   ci/regenerate-bindings.sh                  every committed target
#   ci/regenerate-bindings.sh TARGET...        just these (a new target: commit the new file)
#
# Then refreshes that target's lists in tests/bindings_match_libc/lists.rs (the libc
# cross-check), so a new target is covered by every proof with this one command.
#
# Needs libclang (apt: libclang-dev) and the pinned ziglang (ci/install-deps.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/common.sh

find_zig_headers
if (($#)); then targets=("$@"); else mapfile -t targets < <(committed_targets); fi
for target in "${targets[@]}"; do
    start=$SECONDS
    READYIO_WRITE_BINDINGS=1 generate_bindings "$target"
    echo "regenerated src/sys/bindings/$target.rs ($((SECONDS - start))s)"
done
# The libc cross-check compares every name both define: refresh its lists for these targets.
python3 ci/update-libc-crosscheck.py "${targets[@]}"
