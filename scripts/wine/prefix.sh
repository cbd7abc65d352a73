#!/usr/bin/env bash
# Prepares a wine prefix in which Go programs built for Windows run:
#   bash scripts/wine/prefix.sh DIR
# creates DIR/prefix (WINEPREFIX), builds the ProcessPrng stand-in DLL into its system32
# (scripts/wine/processprng.c, see there why) and writes DIR/overlay.json, the
# `go build -overlay` file that lets os.RemoveAll work under wine
# (scripts/wine/deleteat_fallback.go.in). Prints nothing on success; needs wine64 (or
# wine) and x86_64-w64-mingw32-gcc (Debian: wine, wine64, gcc-mingw-w64-x86-64, which
# scripts/tools.d/wine.sh installs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: prefix.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
export WINEPREFIX="$dir/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree=;mshtml="
wine=$(command -v wine64 || command -v wine) || { echo "wine: no wine64 or wine on PATH" >&2; exit 1; }
command -v x86_64-w64-mingw32-gcc >/dev/null || { echo "wine: no x86_64-w64-mingw32-gcc on PATH" >&2; exit 1; }
x86_64-w64-mingw32-gcc -shared -O2 -Wl,--kill-at -o "$dir/bcryptprimitives.dll" "$here/processprng.c" -ladvapi32
# wineboot creates the prefix; mscoree/mshtml are disabled so it never offers to
# download Mono or Gecko.
"$wine" wineboot -i >/dev/null 2>&1
"$(dirname "$wine")/wineserver" -w 2>/dev/null || wineserver -w 2>/dev/null || true
cp "$dir/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
goroot=$(go env GOROOT)
printf '{"Replace":{"%s/src/internal/syscall/windows/zz_wine_deleteat_fallback.go":"%s"}}\n' \
	"$goroot" "$here/deleteat_fallback.go.in" >"$dir/overlay.json"
