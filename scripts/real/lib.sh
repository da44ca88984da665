# Shared helpers for scripts/real/*.sh. Source it; it defines functions only.

# The three Nix settings a root, daemon-less Nix 2.8 (Debian nix-bin) needs:
# no nixbld group, no sandbox (the builder is /bin/sh from the host), and no
# public substituter (offline machines would spend ~4.5 s retrying it).
nixfleet_nix_conf() {
	printf '%s\n' \
		'build-users-group =' \
		'sandbox = false' \
		'substituters ='
}

# Prints the Debian mirror URI that the host's apt uses for SUITE (default
# bookworm), read from /etc/apt/sources.list.d/*.sources (deb822),
# /etc/apt/sources.list.d/*.list and /etc/apt/sources.list (one-line format).
# NIXFLEET_DEBIAN_MIRROR overrides the lookup. Fails when nothing matches.
nixfleet_debian_mirror() {
	local suite=${1:-bookworm}
	if [ -n "${NIXFLEET_DEBIAN_MIRROR:-}" ]; then
		printf '%s\n' "$NIXFLEET_DEBIAN_MIRROR"
		return 0
	fi
	local found="" f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		found=$(awk -v suite="$suite" '
			function flush() {
				if (!done && types ~ /(^| )deb( |$)/ && suites ~ ("(^| )" suite "( |$)") && uri != "") { print uri; done = 1; exit }
				types = ""; suites = ""; uri = ""
			}
			/^[[:space:]]*$/ { flush(); next }
			/^[[:space:]]*#/ { next }
			tolower($1) == "types:"  { $1 = ""; types = $0 " " }
			tolower($1) == "suites:" { $1 = ""; suites = $0 " " }
			tolower($1) == "uris:"   { uri = $2 }
			END { flush() }
		' "$f")
		[ -n "$found" ] && break
	done
	if [ -z "$found" ]; then
		for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list; do
			[ -f "$f" ] || continue
			found=$(awk -v suite="$suite" '
				$1 != "deb" { next }
				{ i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } }
				$(i + 1) == suite { print $i; exit }
			' "$f")
			[ -n "$found" ] && break
		done
	fi
	if [ -z "$found" ]; then
		echo "no apt source for suite '$suite' found; set NIXFLEET_DEBIAN_MIRROR" >&2
		return 1
	fi
	printf '%s\n' "${found%/}"
}
