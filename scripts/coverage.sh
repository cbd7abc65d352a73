# Sourced by scripts/test.sh and scripts/cover.sh: coverage of the unit tests and of the
# real programs the end-to-end tests start, merged.
#
# cover_begin makes a directory for raw counters and exports BACKAPP_TEST_COVERDIR, so
# every program built by internal/testenv/testbin (with -cover) writes its counters there;
# cover_flags are the go test flags that make each test binary write there too.
# cover_report merges everything and prints the per-package table and the total.

cover_dir=
cover_begin() {
	cover_dir=$(mktemp -d "${TMPDIR:-/tmp}/backapp-cover.XXXXXX")
	export GOCOVERDIR="$cover_dir" BACKAPP_TEST_COVERDIR="$cover_dir"
	cover_flags=(-covermode=atomic -coverpkg=./... -cover)
	cover_args=(-args -test.gocoverdir="$cover_dir")
	cleanup_fns+=(cover_end)
}

cover_end() {
	[ -n "$cover_dir" ] && rm -rf "$cover_dir"
	cover_dir=
}

# cover_report [profile]: prints coverage by package and in total; writes the merged
# text profile to profile when given (for go tool cover -html).
cover_report() {
	local profile=${1:-$cover_dir/cover.out}
	if ! ls "$cover_dir"/covcounters.* >/dev/null 2>&1; then
		echo "coverage: no counters were written" >&2
		return 0
	fi
	echo "coverage by package (unit tests and the programs the end-to-end tests ran):"
	go tool covdata percent -i="$cover_dir" | sed 's/^/  /' | sort
	go tool covdata textfmt -i="$cover_dir" -o "$profile"
	go tool cover -func="$profile" | tail -n 1 | sed 's/^total:[[:space:]]*(statements)[[:space:]]*/coverage: total /'
}
