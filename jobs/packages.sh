# Installs the Debian packages given that are not installed yet (sourced, not run):
#   source jobs/packages.sh; install_missing_packages [--no-install-recommends] PACKAGE...
# Runs apt-get update once, then apt-get install -y, with sudo unless root. With every
# package in place it only checks (dpkg-query), in well under a second.
install_missing_packages() {
  local options=() missing=() p sudo=""
  if [ "${1:-}" = --no-install-recommends ]; then
    options=("$1")
    shift
  fi
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${options[@]}" "${missing[@]}"
}
