# Sourced by scripts/bootstrap.sh and scripts/test.sh: the pinned versions of what the
# bootstrap installs outside npm and cargo's lock files, and where it puts them.
GECKODRIVER_VERSION=0.37.1
LIBTORRENT_VERSION=2.1.1
# Outside the checkout, so every clone of this user shares one (a fresh clone stays quick).
TABSWARM_VENV=${TABSWARM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tabswarm/venv-libtorrent-$LIBTORRENT_VERSION}
export TABSWARM_PYTHON="$TABSWARM_VENV/bin/python"
export CHROMEDRIVER=/usr/bin/chromedriver
export GECKODRIVER="$HOME/.cargo/bin/geckodriver"
export FIREFOX=/usr/bin/firefox-esr
