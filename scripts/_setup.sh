# Shared by scripts/run and scripts/test: Debian packages when missing, the virtualenv, compiled translations.
# Sourced, not run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PROJECT_DIR=$(pwd)
VENV="$PROJECT_DIR/.venv"

ensure_debian_packages() {
  # $@: pairs of "command:package" (the command may be a path pattern); installs the missing ones.
  local missing=()
  for pair in "$@"; do
    local cmd="${pair%%:*}"
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || compgen -G "$cmd" >/dev/null \
      || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> Installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the services it installs; ours are started by us, on our own ports.
  for pkg in "${missing[@]}"; do
    case "$pkg" in
      dovecot-imapd) $sudo systemctl disable --now dovecot >/dev/null 2>&1 || $sudo service dovecot stop >/dev/null 2>&1 || true ;;
    esac
  done
}

ensure_virtualenv() {
  # $1: requirements file
  local python="${PYTHON:-python3}"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "==> Creating the virtual environment in .venv"
    "$python" -m venv "$VENV"
  fi
  local stamp="$VENV/.installed-$(sha256sum "$1" requirements.txt | sha256sum | cut -c1-16)"
  # The test install includes the runtime one: after ./scripts/test, ./scripts/run installs nothing.
  local dev_stamp="$VENV/.installed-$(sha256sum requirements-dev.txt requirements.txt | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ] && [ ! -f "$dev_stamp" ]; then
    echo "==> Installing Python packages from $1"
    # (pip's warnings about find-links folders this machine's pip.conf names but lacks are noise)
    "$VENV/bin/pip" install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
    "$VENV/bin/pip" install -q -r "$1" 2> >(grep -v "^WARNING: Location" >&2)
    touch "$stamp"
  fi
  "$VENV/bin/pybabel" compile -d translations >/dev/null
}
