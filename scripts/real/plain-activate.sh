#!/bin/sh
# plain-activate.sh CLOSURE PROFILE CURRENT UNIT INTERVAL BUDGET SUBSTITUTERS KEYS GCROOT
#
# One live activation as a plain shell script: the same external commands,
# in the same order, that `nixfleet-activate activate` runs on the happy path
# (the command lines of backends/real: RealiseCmd, SetProfileCmd, FireCmds,
# UnitStatusCmd), with the same poll interval. It exists only to measure the
# binary's own share of an activation's wall time
# (BenchmarkBinaryRealActivation in cmd/nixfleet-activate); it has none of
# the binary's checks (lock probe, basename validation, component
# comparison, profile self-correction, final verification), which the binary
# does in-process without running a command.
#
# GCROOT is the indirect GC root the realise registers, as the binary's
# does (--add-root ROOT --indirect; nix-store then prints ROOT); the
# caller removes it (the binary removes its own in-process once the
# profile holds the closure).
#
# INTERVAL is a sleep(1) duration in seconds ("0.1"); BUDGET the number of
# polls before giving up. Exit 0 once CURRENT resolves to CLOSURE and the
# unit's main process has exited (its `systemctl show` lines are printed);
# 1 on any failure or when the budget runs out.
set -eu

closure=$1 profile=$2 current=$3 unit=$4 interval=$5 budget=$6 substituters=$7 keys=$8 gcroot=$9
nl='
'
show="--property=LoadState,ActiveState,SubState,Result,ExecMainCode,ExecMainStatus,ExecMainPID"

realised=$(nix-store --realise "$closure" --add-root "$gcroot" --indirect \
	--option substituters "$substituters" --option trusted-public-keys "$keys")
[ "$realised" = "$gcroot" ]
readlink -f "$current" >/dev/null

# Free the unit name as the backend's ReleaseUnit does, before the profile
# set: reset-failed alone for a failed unit, else stop then reset-failed,
# each tolerating "not loaded".
status=$(systemctl show "$show" -- "$unit.service")
case $status in
*LoadState=loaded*)
	active=${status#*ActiveState=}
	active=${active%%"$nl"*}
	[ "$active" = failed ] || systemctl stop -- "$unit.service" || true
	systemctl reset-failed -- "$unit.service" || true
	;;
esac
nix-env --profile "$profile" --set "$closure"
systemd-run --unit="$unit" \
	--description="nixfleet-activate: switch-to-configuration switch of $closure" \
	--remain-after-exit --service-type=exec --no-ask-password -- \
	"$closure/bin/switch-to-configuration" switch

polls=0
while :; do
	sleep "$interval"
	[ "$(readlink -f "$current")" = "$closure" ] && break
	polls=$((polls + 1))
	[ "$polls" -lt "$budget" ] || exit 1
done
while :; do
	status=$(systemctl show "$show" -- "$unit.service")
	case $status in
	*ExecMainCode=0*) sleep "$interval" ;;
	*) break ;;
	esac
done
printf '%s\n' "$status"
