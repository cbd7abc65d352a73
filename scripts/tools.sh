#!/usr/bin/env bash
# Installs what the tests need and a fresh machine lacks. Go tools go to GOPATH/bin
# (cached across runs); Debian packages through apt-get when running as root.
set -euo pipefail
cd "$(dirname "$0")/.."
GOBIN="$(go env GOPATH)/bin"
export PATH="$GOBIN:$PATH"

need_go_tool() { # name module@version
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "tools: installing $2" >&2
		go install "$2"
	fi
}
need_go_tool staticcheck honnef.co/go/tools/cmd/staticcheck@v0.8.2
need_go_tool deadcode golang.org/x/tools/cmd/deadcode@v0.53.0

apt_updated=
need_apt() { # command package...
	local cmd=$1; shift
	if command -v "$cmd" >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/"$cmd" >/dev/null 2>&1; then return 0; fi
	if [ "$(id -u)" != 0 ]; then
		echo "tools: $cmd is missing; install the Debian package(s) $* (needs root)" >&2
		return 1
	fi
	if [ -z "$apt_updated" ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
	echo "tools: apt-get install $*" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
need_apt initdb postgresql
for f in scripts/tools.d/*.sh; do
	[ -e "$f" ] && source "$f"
done
true
