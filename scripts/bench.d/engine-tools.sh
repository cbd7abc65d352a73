# Sourced by scripts/bench.sh: the tools the engine's benchmark compares against
# (internal/engine/bench_test.go): restic, and tar | pigz | rclone rcat. Installed from
# Debian when missing and running as root; otherwise their rows are left out.
bench_need_apt() { # command package
	if command -v "$1" >/dev/null 2>&1; then return 0; fi
	if [ "$(id -u)" != 0 ]; then
		echo "bench: $1 is missing; install the Debian package $2 to compare with it" >&2
		return 0
	fi
	if [ -z "${bench_apt_updated:-}" ]; then apt-get update -qq >/dev/null || true; bench_apt_updated=1; fi
	echo "bench: apt-get install $2" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null ||
		echo "bench: could not install $2; its rows are left out" >&2
}
bench_need_apt restic restic
bench_need_apt rclone rclone
bench_need_apt pigz pigz

# kopia 0.23.1, the version issue 17 compares with, built from the Go module proxy
# into .cache (go install github.com/kopia/kopia@v0.23.1 itself is refused here: the
# proxy answers 403 to the module's version list, which go install reads for its
# deprecation notice; requiring the exact version from a throwaway module does not
# read it). Its rows are left out when the build fails.
bench_need_kopia() {
	local dir=.cache/kopia-0.23.1
	if command -v kopia >/dev/null 2>&1; then return 0; fi
	if [ ! -x "$dir/kopia" ]; then
		echo "bench: building kopia v0.23.1 from the Go module proxy into $dir" >&2
		mkdir -p "$dir/mod"
		printf 'module kopiabuild\n\ngo 1.26\n' >"$dir/mod/go.mod"
		printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/kopia/kopia"\n' >"$dir/mod/tools.go"
		if ! (cd "$dir/mod" && go get github.com/kopia/kopia@v0.23.1 >/dev/null 2>&1 &&
			go build -o ../kopia github.com/kopia/kopia); then
			echo "bench: could not build kopia v0.23.1; its rows are left out" >&2
			return 0
		fi
	fi
	PATH="$PWD/$dir:$PATH"
	export PATH
}
bench_need_kopia
