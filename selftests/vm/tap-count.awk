# SPDX-License-Identifier: GPL-2.0
#
# Counts test results in the output of a test run (selftests/vm/init's
# console, or host suites wrapped in the same markers):
#   LTVM-BEGIN <name> ... LTVM-END <name> rc=N   one program's TAP output
#   LTVM-CHECK ok|not ok <what>                  one check of the VM init
#   LTVM-DONE                                    the run was not cut short
# Within a program only top-level TAP lines count: "ok N", "not ok N",
# "ok N ... # SKIP", plans "1..N" and "Bail out!". A program that exits
# non-zero without a failed case, or reports fewer cases than it planned,
# or never ends, fails. With -v need_done=1 a missing LTVM-DONE fails.
# With -v cut_ok=1 the program a run was cut short in (a VM that wedged
# and is booted again) does not fail; everything before it counts.
# -v label=<text> prefixes every failure line. Prints failures, then
# "passed failed skipped" as the last line.

function fail(what) {
	failed++
	printf "FAIL %s%s\n", label ? label ": " : "", what
}

# How a program ended, from its exit status (busybox timeout sends TERM,
# then KILL).
function how(rc) {
	if (rc == 143)
		return "killed by its timeout"
	if (rc == 137)
		return "killed by SIGKILL (timeout or out of memory)"
	if (rc > 128)
		return "killed by signal " (rc - 128)
	return "exited with status " rc
}

function finish(rc,   missing) {
	missing = planned - cases
	if (missing > 0)
		fail(prog ": " missing " planned case(s) never reported, " how(rc))
	else if (rc != 0 && rc != 4 && prog_failed == 0)
		fail(prog ": " how(rc))
	else if (planned == 0 && cases == 0)
		fail(prog ": printed no TAP results")
	prog = ""
}

BEGIN { passed = 0; failed = 0; skipped = 0; prog = "" }

{ sub(/\r$/, "") }

/^LTVM-BEGIN / {
	if (prog != "")
		finish(1)
	prog = $2; planned = 0; cases = 0; prog_failed = 0
	next
}

/^LTVM-END / {
	rc = $3
	sub(/^rc=/, "", rc)
	if (prog != "")
		finish(rc + 0)
	next
}

/^LTVM-CHECK ok / { passed++; next }

/^LTVM-CHECK not ok / {
	what = $0
	sub(/^LTVM-CHECK not ok /, "", what)
	fail(what)
	next
}

/^LTVM-DONE/ { done = 1; next }

prog == "" { next }

/^1\.\.[0-9]+/ { planned += substr($1, 4) + 0; next }

/^Bail out!/ { fail(prog ": " $0); prog_failed++; next }

/^not ok [0-9]+/ {
	cases++
	if ($0 ~ /# *(SKIP|skip)/) {
		skipped++
	} else if ($0 ~ /# *TODO/) {
		skipped++
	} else {
		fail(prog ": " $0)
		prog_failed++
	}
	next
}

/^ok [0-9]+/ {
	cases++
	if ($0 ~ /# *(SKIP|skip)/)
		skipped++
	else
		passed++
	next
}

END {
	if (prog != "" && !cut_ok)
		fail(prog ": cut short (no end marker: crash or timeout)")
	if (need_done && !done)
		fail("the VM did not finish (kernel panic or timeout)")
	print passed, failed, skipped
}
