#!/usr/bin/env bash
# Copy the training and dev puzzles into the repository (gpu_data/, git-ignored), so they travel with
# the source tree to a machine where ../shared does not exist.
#
# usage: scripts/gpu/pack_data.sh [--from DIR] [--to DIR]
#   --from DIR   where the CSVs are (default: ../shared/data beside the repository)
#   --to DIR     where they go (default: gpu_data/ in the repository; start.sh and finish.sh read it)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

from="$ROOT/../shared/data"
to="$DEFAULT_DATA"
while (($#)); do
    case $1 in
        --from) from=${2:?--from needs a folder}; shift 2 ;;
        --to) to=${2:?--to needs a folder}; shift 2 ;;
        -h | --help) sed -n '2,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done

for name in "${DATA_FILES[@]}"; do
    [[ -f $from/$name ]] || die "$from/$name: missing (pass --from DIR, the folder holding ${DATA_FILES[*]})"
done
mkdir -p "$to"
for name in "${DATA_FILES[@]}"; do
    cp "$from/$name" "$to/$name"
done
echo "packed ${#DATA_FILES[@]} files ($(du -sh "$to" | cut -f1)) into $to"
