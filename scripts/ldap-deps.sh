#!/usr/bin/env bash
# Installs what the LDAP tests and benchmarks need: slapd (the reference server the
# directory-source tests and benchmarks start themselves on 127.0.0.1) and ldap-utils
# (ldapsearch, ldapmodify, ldapwhoami). Idempotent: does nothing when both exist.
# Installing needs root and the Debian package archive; when that is impossible the
# script says so and exits 0, and the tests that need the tools skip with a message.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

if have slapd && have ldapsearch && have ldapmodify; then
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "ldap-deps: apt-get not found; install slapd and ldap-utils yourself (LDAP tests will skip)" >&2
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
		echo "ldap-deps: not root and no sudo; install slapd and ldap-utils yourself (LDAP tests will skip)" >&2
		exit 0
	fi
fi

export DEBIAN_FRONTEND=noninteractive
# The package's own slapd service is not needed: tests start their own instance.
if ! $SUDO apt-get update -qq || ! $SUDO apt-get install -y -qq --no-install-recommends slapd ldap-utils >/dev/null; then
	echo "ldap-deps: installing slapd and ldap-utils failed (LDAP tests will skip)" >&2
	exit 0
fi
# Stop a service the package may have started; keyward's tests never use it.
$SUDO service slapd stop >/dev/null 2>&1 || true
echo "ldap-deps: slapd and ldap-utils installed" >&2
