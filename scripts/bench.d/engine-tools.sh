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
