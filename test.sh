#!/usr/bin/env bash
# The test command (README, and CI through .ci/run). On a fresh Debian
# machine, run as root: it installs what the integration tests need from
# Debian's packages, then runs the whole suite. Without root and without
# Dovecot, the real-server tests skip (unless CI is set: then they fail).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Go lives in /usr/local/go on these machines; a minimal PATH may lack it.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

packages=(dovecot-imapd dovecot-core libreoffice-calc-nogui)
missing=()
command -v dovecot >/dev/null 2>&1 || missing+=(dovecot)
command -v soffice >/dev/null 2>&1 || missing+=(soffice)

retry() {
	local n
	for n in 1 2 3; do
		if "$@"; then return 0; fi
		echo "test.sh: attempt $n of '$*' failed" >&2
		sleep $((n * 5))
	done
	return 1
}

if [ ${#missing[@]} -gt 0 ] || [ -n "${CI:-}" ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "test.sh: installing ${packages[*]}"
		export DEBIAN_FRONTEND=noninteractive
		retry apt-get update -qq
		retry apt-get install -y -qq --no-install-recommends "${packages[@]}"
		# The tests run private instances on free ports; the packaged system
		# service is not needed. There may be no init system at all.
		if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
			systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || true
		fi
		if [ -x /etc/init.d/dovecot ]; then
			/etc/init.d/dovecot stop >/dev/null 2>&1 || true
		fi
	else
		echo "test.sh: not root: cannot install ${packages[*]}; the tests that need them will skip" >&2
		echo "test.sh: install with: sudo apt-get install -y --no-install-recommends ${packages[*]}" >&2
	fi
fi

go version
command -v dovecot >/dev/null 2>&1 && echo "dovecot $(dovecot --version)"
echo "test.sh: go test -count=1 -timeout 20m ./..."
go test -count=1 -timeout 20m ./...
