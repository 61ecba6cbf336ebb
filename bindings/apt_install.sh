# Sourced by bindings/<language>/test.sh: apt_install PACKAGE... installs
# what a binding's tests need with apt-get (as root), or says what to install.
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "test.sh: $* missing and not root: install it (apt-get install $*)" >&2
    exit 1
  fi
  echo "test.sh: installing $* (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}
