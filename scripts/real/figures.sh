#!/usr/bin/env bash
# figures.sh [N] — the figures of one real activation through the binary
# (issue 4's closing note): wall time (realise + set + fire + settle), the
# binary's own share (its wall time over that of scripts/real/plain-activate.sh
# running the same commands, measured in the same run) and its peak RSS.
# Runs BenchmarkBinaryRealActivation N times (default 10) against real Nix and
# a systemd-nspawn container; needs root and the tools of setup.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
n=${1:-10}
NIXFLEET_REQUIRE_REAL=1 go test -count=1 -run '^$' -bench 'BinaryRealActivation' \
	-benchtime "${n}x" ./cmd/nixfleet-activate
