# Sourced by scripts/tools.sh: the age CLI, which the engine's tests use to prove that an
# encrypted archive opens with plain `age -d -i key | tar x`, without backapp.
need_apt age age
