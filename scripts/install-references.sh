#!/bin/sh
# Installs the real systems concbench's reference models run (Node.js for
# node-loop/node-pool/node-cluster, Apache httpd for apache-worker) from
# Debian with apt-get: non-interactive, and idempotent — packages already
# installed are left alone. One line per package; Apache 2.4's mod_lua ships
# inside apache2 (there is no separate libapache2-mod-lua package).
set -eu

need() { # need PACKAGE COMMAND: queue PACKAGE unless it or COMMAND is installed
	if dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed' || command -v "$2" >/dev/null 2>&1; then
		echo "install-references: $1 present, skipped"
	else
		missing="${missing:-} $1"
	fi
}

need nodejs node
need apache2 apache2

[ -z "${missing:-}" ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-references: installing${missing}"
$sudo apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is intended
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
