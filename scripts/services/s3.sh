# Sourced by scripts/test.sh: provides an S3-compatible server for the tests and exports
#   TEST_S3_ENDPOINT    http://127.0.0.1:PORT
#   TEST_S3_ACCESS_KEY, TEST_S3_SECRET_KEY  (random per run)
#   TEST_S3_REGION      us-east-1
# When TEST_S3_ENDPOINT is already set, that server is used and nothing is started.
# Otherwise versitygw (installed by scripts/tools.d/versitygw.sh) is started on a free
# port of 127.0.0.1 over a temporary posix directory, and stopped by s3_stop, which is
# appended to cleanup_fns. Not starting is a warning on a developer's machine (the S3
# tests then skip) and a failure in CI (CI=true): this file then returns non-zero, which
# stops test.sh under set -e. It never calls exit, since it runs inside test.sh's shell.

s3_pid=
s3_dir=

s3_stop() {
	if [ -n "$s3_pid" ]; then
		kill "$s3_pid" 2>/dev/null || true
		wait "$s3_pid" 2>/dev/null || true
		s3_pid=
	fi
	if [ -n "$s3_dir" ]; then
		rm -rf "$s3_dir"
		s3_dir=
	fi
}

s3_fail() { # message
	echo "s3: $1" >&2
	if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then
		return 1
	fi
	echo "s3: the tests that need S3 will be skipped" >&2
	return 0
}

s3_random() { # bytes → hex
	head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'
}

s3_port_in_use() { # port
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

s3_start() {
	local bin
	bin=$(command -v versitygw 2>/dev/null || true)
	if [ -z "$bin" ] && [ -x "$(go env GOPATH)/bin/versitygw" ]; then
		bin="$(go env GOPATH)/bin/versitygw"
	fi
	if [ -z "$bin" ]; then
		s3_fail "versitygw is not installed (run: make tools)"
		return
	fi

	s3_dir=$(mktemp -d "${TMPDIR:-/tmp}/backapp-s3.XXXXXX")
	mkdir -p "$s3_dir/data" "$s3_dir/meta"
	local access secret port attempt i
	access="test$(s3_random 8)"
	secret=$(s3_random 20)
	for attempt in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		if s3_port_in_use "$port"; then continue; fi
		# --sidecar keeps object metadata in files, so the data directory needs no
		# extended attributes (tmpfs and some CI filesystems lack user xattrs).
		ROOT_ACCESS_KEY_ID="$access" ROOT_SECRET_ACCESS_KEY="$secret" \
			"$bin" --port "127.0.0.1:$port" --region us-east-1 --quiet \
			posix --sidecar "$s3_dir/meta" "$s3_dir/data" >"$s3_dir/log" 2>&1 &
		s3_pid=$!
		for i in $(seq 1 100); do
			if ! kill -0 "$s3_pid" 2>/dev/null; then break; fi
			# Any HTTP answer (403 for an anonymous request) means it serves.
			if curl -s -o /dev/null -m 2 "http://127.0.0.1:$port/"; then
				cleanup_fns+=(s3_stop)
				export TEST_S3_ENDPOINT="http://127.0.0.1:$port"
				export TEST_S3_ACCESS_KEY="$access"
				export TEST_S3_SECRET_KEY="$secret"
				export TEST_S3_REGION=us-east-1
				echo "s3: versitygw serving $TEST_S3_ENDPOINT (data in $s3_dir)" >&2
				return 0
			fi
			sleep 0.1
		done
		kill "$s3_pid" 2>/dev/null || true
		wait "$s3_pid" 2>/dev/null || true
		s3_pid=
	done
	local log
	log=$(tail -n 20 "$s3_dir/log" 2>/dev/null || true)
	s3_stop
	s3_fail "versitygw did not start on 127.0.0.1: $log"
}

if [ -n "${TEST_S3_ENDPOINT:-}" ]; then
	: "${TEST_S3_REGION:=us-east-1}"
	export TEST_S3_ENDPOINT TEST_S3_REGION
	echo "s3: using TEST_S3_ENDPOINT=$TEST_S3_ENDPOINT" >&2
else
	s3_start
fi
