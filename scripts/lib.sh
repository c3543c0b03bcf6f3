# Shared set-up for scripts/demo, scripts/test and scripts/install: sourced, not run.
# Idempotent: a second run installs nothing that is already there.

EDGE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EDGE_VENV:-$EDGE_ROOT/.venv}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Debian packages: install only those missing. Needs root (or sudo) the first time.
ensure_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root to install: ${missing[*]}" >&2; return 1; }
    sudo="sudo"
  fi
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
  for py in python3.13 python3.12 python3.11 python3; do
    if command -v "$py" >/dev/null && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      echo "$py"; return 0
    fi
  done
  echo "Python >= 3.11 is required" >&2
  return 1
}

# The project's virtualenv with the package installed editable (extras in $1, e.g. "test").
ensure_venv() {
  local extras="${1:-}"
  local py
  py="$(find_python)"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "$py" -m venv "$VENV" || { ensure_apt python3-venv && "$py" -m venv "$VENV"; }
  fi
  local stamp="$VENV/.installed-${extras:-base}"
  if [ ! -f "$stamp" ] || [ "$EDGE_ROOT/pyproject.toml" -nt "$stamp" ]; then
    say "installing compound-edge${extras:+[$extras]} into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$EDGE_ROOT${extras:+[$extras]}"
    touch "$stamp"
  fi
}

ensure_models() {
  if [ -x "$EDGE_ROOT/scripts/fetch-models" ]; then
    "$EDGE_ROOT/scripts/fetch-models" --dest "$EDGE_ROOT/models" >&2
  fi
}
