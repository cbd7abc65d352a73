# shellcheck shell=bash
# PostgreSQL for the tests. Sourced by scripts/test.sh (set -euo pipefail there); it
# exports TEST_DATABASE_URL, a server on which the role may CREATE DATABASE
# (internal/store/pgtest makes one database per test). In order:
#   1. TEST_DATABASE_URL, when already set and it answers;
#   2. the local server at 127.0.0.1:5432, database test (users postgres, then root);
#      BACKAPP_TEST_PG_SKIP_LOCAL=1 skips this probe, to exercise step 3;
#   3. a throwaway server from the machine's PostgreSQL binaries (initdb, pg_ctl) in a
#      temp dir, on a free port, stopped by a function appended to cleanup_fns.
# When none works the tests that need PostgreSQL skip, except in CI (CI=true), where
# this returns non-zero so test.sh stops. It never exits: it is sourced.

_pg_log() { echo "postgres: $*" >&2; }

# _pg_bindir: the directory holding initdb and pg_ctl.
_pg_bindir() {
	local d
	if command -v pg_ctl >/dev/null 2>&1; then
		d=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
		if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
	fi
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
	return 1
}

# _pg_psql: psql from PATH, else from the PostgreSQL binaries.
_pg_psql() {
	if command -v psql >/dev/null 2>&1; then psql "$@"; return; fi
	local d
	d=$(_pg_bindir) || return 1
	"$d/psql" "$@"
}

# _pg_usable URL: the server answers and the role may create databases.
_pg_usable() {
	local out
	out=$(PGCONNECT_TIMEOUT=3 _pg_psql "$1" -XAtqc \
		"select rolsuper or rolcreatedb from pg_roles where rolname = current_user" 2>/dev/null) || return 1
	[ "$out" = t ]
}

# _pg_as_owner CMD...: runs CMD as the unprivileged owner of the temp cluster
# (initdb and postgres refuse to run as root).
_pg_as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$_pg_owner" -- "$@"
	else
		"$@"
	fi
}

_pg_free_port() {
	local port i
	for i in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

_pg_stop() {
	if [ -n "${_pg_tmp:-}" ] && [ -d "$_pg_tmp" ]; then
		_pg_as_owner "$_pg_bin/pg_ctl" -D "$_pg_tmp/data" -m immediate -w stop >/dev/null 2>&1 || true
		rm -rf "$_pg_tmp"
		_pg_log "stopped the temporary server"
	fi
	_pg_tmp=
}

_pg_start_from_binaries() {
	_pg_bin=$(_pg_bindir) || { _pg_log "no initdb/pg_ctl on PATH or under /usr/lib/postgresql/*/bin (make tools installs them)"; return 1; }
	_pg_owner=$(id -un)
	if [ "$(id -u)" = 0 ]; then
		if id -u postgres >/dev/null 2>&1; then
			_pg_owner=postgres
		else
			_pg_owner=backapp-pg
			id -u "$_pg_owner" >/dev/null 2>&1 ||
				useradd --system --no-create-home --shell /usr/sbin/nologin "$_pg_owner" ||
				{ _pg_log "cannot create an unprivileged user to run initdb"; return 1; }
		fi
	fi
	_pg_tmp=$(mktemp -d "${TMPDIR:-/tmp}/backapp-pg.XXXXXX")
	chmod 0755 "$_pg_tmp"
	if [ "$(id -u)" = 0 ]; then chown "$_pg_owner" "$_pg_tmp"; fi
	cleanup_fns+=(_pg_stop)

	if ! _pg_as_owner "$_pg_bin/initdb" -D "$_pg_tmp/data" -U postgres --auth=trust \
		--encoding=UTF8 --no-locale --no-sync >"$_pg_tmp/initdb.log" 2>&1; then
		_pg_log "initdb failed:"; cat "$_pg_tmp/initdb.log" >&2
		return 1
	fi
	local port try
	for try in 1 2 3 4 5; do
		port=$(_pg_free_port) || break
		# Throwaway data: durability settings off for speed.
		if _pg_as_owner "$_pg_bin/pg_ctl" -D "$_pg_tmp/data" -l "$_pg_tmp/server.log" -w -t 60 \
			-o "-p $port -k $_pg_tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start >/dev/null 2>&1; then
			TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
			export TEST_DATABASE_URL
			_pg_log "started a temporary server ($("$_pg_bin/postgres" --version)) on port $port in $_pg_tmp"
			return 0
		fi
		_pg_log "start on port $port failed (attempt $try)"
	done
	_pg_log "could not start the server; its log:"; cat "$_pg_tmp/server.log" >&2 || true
	return 1
}

_pg_setup() {
	local url
	if [ -n "${TEST_DATABASE_URL:-}" ]; then
		if _pg_usable "$TEST_DATABASE_URL"; then
			_pg_log "using TEST_DATABASE_URL"
			return 0
		fi
		_pg_log "TEST_DATABASE_URL is set but does not answer (or may not create databases); looking further"
	fi
	if [ "${BACKAPP_TEST_PG_SKIP_LOCAL:-}" != 1 ]; then
		for url in "postgres://postgres@127.0.0.1:5432/test?sslmode=disable" \
			"postgres://root@127.0.0.1:5432/test?sslmode=disable"; do
			if _pg_usable "$url"; then
				export TEST_DATABASE_URL=$url
				_pg_log "using the local server ${url%%\?*}"
				return 0
			fi
		done
	fi
	if _pg_start_from_binaries && _pg_usable "$TEST_DATABASE_URL"; then
		return 0
	fi
	unset TEST_DATABASE_URL
	return 1
}

if ! _pg_setup; then
	if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then
		_pg_log "no PostgreSQL for the tests, and CI forbids skipping them"
		return 1
	fi
	_pg_log "no PostgreSQL: tests that need it will skip"
fi
true
