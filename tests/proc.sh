# tests/proc.sh - sourced by test scripts: "does it still run?" as spok itself asks it
# (src/common/pid.h). A zombie runs nothing: an orphan waits for PID 1 to reap it, which on
# some machines (a CI container whose init does not reap) is never, and kill -0 / pgrep still
# find it. So only members whose /proc state is not Z (or X) count.

# proc_running PID: a live process with that pid exists.
proc_running() {
	local s
	s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ -n "$s" ] && [ "${s:0:1}" != Z ] && [ "${s:0:1}" != X ]
}
# proc_gone PID: the opposite, for wait loops.
proc_gone() { ! proc_running "$1"; }
# pgrp_members PGID: the pids of the group's live members, one per line.
pgrp_members() {
	ps -eo pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^[ZX]/ { print $1 }'
}
# pgrp_gone PGID: no live member left.
pgrp_gone() { [ -z "$(pgrp_members "$1")" ]; }
