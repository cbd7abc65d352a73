# Sourced by scripts/tools.sh: Debian's wine (8.0 on bookworm) and the mingw-w64 C
# compiler, with which scripts/wine-test.sh runs the agent's and engine's tests built
# for Windows, and the Windows end-to-end test (e2e/windows_test.go) runs the Windows
# agent. mingw-w64 builds the small ProcessPrng stand-in DLL (scripts/wine/processprng.c).
need_apt wine wine wine64
need_apt x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
