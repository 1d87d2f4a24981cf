# Shared helpers for the project's shell scripts (sourced, not run).
# Every message names the script, so output from nested calls stays readable.

PCHAT_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PCHAT_PROG=$(basename "$0")

say()  { printf '%s: %s\n' "$PCHAT_PROG" "$*"; }
warn() { printf '%s: warning: %s\n' "$PCHAT_PROG" "$*" >&2; }
die()  { printf '%s: error: %s\n' "$PCHAT_PROG" "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "'$*' needs root and sudo is not installed; run this as root"
	fi
}

# Installed Debian version of a package, empty when it is not installed.
deb_version() {
	dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null |
		awk '$1 == "install" && $3 == "installed" { print $4 }'
}

# Wait until "$@" succeeds, at most $1 seconds (checked every 0.1 s).
wait_for() {
	local limit=$1; shift
	local tries=$((limit * 10))
	while [ $tries -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

# The folder Debian's kamailio loads modules from (its -L default).
kamailio_modules_dir() {
	kamailio -h 2>&1 | sed -n 's/.*-L path.*default: \(.*\))/\1/p'
}
