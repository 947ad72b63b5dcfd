#!/usr/bin/env bash
# linux-test.sh — the Linux real-guest tests (see CMakeLists.txt here).
#
#   linux-test.sh guest KIT OUTDIR        build the guest with KIT/make-guest.sh
#                                         (once: reused while newer than the kit)
#   linux-test.sh boot  OUTDIR UMBRA...   bench=boot reaches GUEST-DONE
#   linux-test.sh shell OUTDIR UMBRA...   a command typed on ttyS0 runs
#   linux-test.sh bench OUTDIR UMBRA...   bench=cpu scale=10 matches native
#   linux-test.sh icount OUTDIR UMBRA...  two -icount boots are identical
#   linux-test.sh default DIR UMBRA       `umbra` with no arguments boots the
#                                         default guest's disk (built in DIR)
#                                         through SeaBIOS and SYSLINUX to its
#                                         shell; `exit` there ends the run and
#                                         the disk is unchanged
#
# UMBRA... is the emulator command with any extra flags (-mmu walk).  The
# guest halts after `poweroff -f` (no ACPI), so a run ends when its marker
# has arrived and the emulator is then stopped by its PID; a run that does
# not reach its marker within $UMBRA_LINUX_BOOT_TIMEOUT seconds (default
# 600) fails, with the end of the serial log on stderr.
set -euo pipefail

die() { printf 'linux-test: %s\n' "$*" >&2; exit 1; }

mode=${1:-}
[[ $# -ge 3 ]] || die "usage: $0 guest KIT OUTDIR | {boot|shell|bench|icount} OUTDIR UMBRA [ARGS...]"
timeout_s=${UMBRA_LINUX_BOOT_TIMEOUT:-600}

build_guest() {
	local kit=$1 out=$2 stamp=$2/.umbra-built
	[[ -x $kit/make-guest.sh ]] ||
		die "bench kit not found at '$kit' (configure with -DUMBRA_BENCH_KIT=DIR)"
	if [[ -f $stamp && -s $out/bzImage && -s $out/initrd.gz && -x $out/native/cpu ]] &&
		[[ -z $(find "$kit/make-guest.sh" "$kit/src" -newer "$stamp" -print -quit) ]]; then
		echo "linux-test: reusing the guest in $out ($(cat "$out/kernel-version.txt"))"
		return 0
	fi
	# Needs root, apt and the network; without them this fails, loudly.
	"$kit/make-guest.sh" "$out" || die "make-guest.sh failed: cannot build the Linux guest"
	touch "$stamp"
}

if [[ $mode == guest ]]; then
	build_guest "$2" "$3"
	exit 0
fi

guest=$2
shift 2
umbra=("$@")
for f in bzImage initrd.gz; do
	[[ -s $guest/$f ]] || die "$guest/$f missing: the linux.guest test builds it"
done

work=$(mktemp -d)
pid=""
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		sleep 0.5
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

serial=$work/serial.log
# start APPEND: boot the guest; serial output to $serial, input from fd 3.
start() {
	mkfifo "$work/in"
	exec 3<>"$work/in" # read-write: opening never blocks, and no EOF while open
	"${umbra[@]}" -m 256 -kernel "$guest/bzImage" -initrd "$guest/initrd.gz" -append "$1" \
		-nographic <"$work/in" >"$serial" 2>"$work/stderr" &
	pid=$!
	t0=$SECONDS
	echo "linux-test: ${umbra[*]} -m 256 -kernel $guest/bzImage -initrd $guest/initrd.gz" \
		"-append '$1' -nographic"
}

fail_with_log() {
	echo "linux-test: $*" >&2
	echo "--- last serial output:" >&2
	tail -n 40 "$serial" >&2 || true
	echo "--- emulator stderr:" >&2
	tail -n 20 "$work/stderr" >&2 || true
	exit 1
}

# wait_for REGEX: until the serial log matches (fixed time limit per run).
wait_for() {
	while ! grep -aqE "$1" "$serial"; do
		# Exited (the guest powers off after GUEST-DONE): look once more.
		if ! kill -0 "$pid" 2>/dev/null; then
			grep -aqE "$1" "$serial" || fail_with_log "emulator exited before '$1'"
			break
		fi
		((SECONDS - t0 < timeout_s)) || fail_with_log "no '$1' within ${timeout_s} s"
		sleep 0.5
	done
	echo "linux-test: '$1' after $((SECONDS - t0)) s"
}

case $mode in
boot)
	start "console=ttyS0 quiet panic=-1 bench=boot"
	wait_for '^GUEST-READY'
	wait_for '^GUEST-DONE'
	grep -aq '^GUEST-RESULT boot' "$serial" || fail_with_log "no 'GUEST-RESULT boot'"
	;;
shell)
	# busybox sh as PID 1 on the serial console; the command's output (42,
	# computed by the shell, then the kernel's machine name) cannot be the
	# terminal echoing the typed line back.
	start "console=ttyS0 quiet panic=-1 rdinit=/bin/sh"
	wait_for '^/ # ' # the prompt (line editing then sends a cursor query)
	printf 'echo UMBRA-$((6*7))-$(uname -m)\n' >&3
	wait_for 'UMBRA-42-i686'
	printf 'mount -t proc proc /proc; grep -c ^processor /proc/cpuinfo | sed s/^/CPUS-/\n' >&3
	wait_for '^CPUS-1'
	# A reboot resets the machine through the 8042/port 0xCF9; the test
	# passes -no-reboot, with which that ends the run with status 0.
	printf 'reboot -f\n' >&3
	while kill -0 "$pid" 2>/dev/null; do
		((SECONDS - t0 < timeout_s)) || fail_with_log "no exit after 'reboot -f'"
		sleep 0.5
	done
	rc=0
	wait "$pid" || rc=$?
	pid=""
	[[ $rc -eq 0 ]] || fail_with_log "exit status $rc after 'reboot -f' with -no-reboot"
	echo "linux-test: 'reboot -f' ended the run with status 0"
	;;
bench)
	wl=cpu scale=10
	[[ -x $guest/native/$wl ]] || die "$guest/native/$wl missing"
	want=$("$guest/native/$wl" "$scale" 2>&1 | head -n 1)
	start "console=ttyS0 quiet panic=-1 bench=$wl scale=$scale"
	wait_for '^GUEST-DONE'
	got=$(sed -n 's/^GUEST-RESULT //p' "$serial" | tr -d '\r' | head -n 1)
	echo "linux-test: native: $want"
	echo "linux-test: guest:  $got"
	[[ $got == "$want" ]] || fail_with_log "checksum mismatch"
	;;
icount)
	# Two -icount boots must agree bit for bit: the same serial output and
	# the same instruction count.  The guest powers off (halts), which ends
	# each run by itself; -stats gives the count (its timing lines differ).
	args=(-icount 0 -m 256 -kernel "$guest/bzImage" -initrd "$guest/initrd.gz"
		-append "console=ttyS0 panic=-1 bench=boot" -nographic -stats)
	echo "linux-test: ${umbra[*]} ${args[*]}"
	t0=$SECONDS
	for run in 1 2; do
		rc=0
		timeout "$timeout_s" "${umbra[@]}" "${args[@]}" </dev/null >"$work/run$run.log" 2>&1 || rc=$?
		cp "$work/run$run.log" "$serial"
		[[ $rc -eq 0 ]] || fail_with_log "run $run ended with status $rc"
		grep -aq '^GUEST-DONE' "$serial" || fail_with_log "run $run: no GUEST-DONE"
		grep -av 'run time' "$work/run$run.log" >"$work/run$run.cmp"
		echo "linux-test: run $run: $(grep -a 'instructions retired' "$serial")"
	done
	diff "$work/run1.cmp" "$work/run2.cmp" >&2 || fail_with_log "the two -icount runs differ"
	;;
default)
	# The README's first command: no arguments at all.  The shell runs with
	# job control on the console; leaving it powers the guest off, which
	# ends Umbra with status 0.
	mkfifo "$work/in"
	exec 3<>"$work/in"
	"${umbra[@]}" <"$work/in" >"$serial" 2>"$work/stderr" &
	pid=$!
	t0=$SECONDS
	echo "linux-test: ${umbra[*]} (no arguments; the default guest in $guest)"
	sum0=$(sha256sum <"$guest/disk.img")
	wait_for 'Booting from Hard Disk'
	wait_for 'SYSLINUX'
	wait_for '^umbra:/root# '
	printf 'echo UMBRA-$((6*7))-$(uname -m)\n' >&3
	wait_for 'UMBRA-42-i686'
	printf 'exit\n' >&3
	while kill -0 "$pid" 2>/dev/null; do
		((SECONDS - t0 < timeout_s)) || fail_with_log "no exit after 'exit'"
		sleep 0.5
	done
	rc=0
	wait "$pid" || rc=$?
	pid=""
	[[ $rc -eq 0 ]] || fail_with_log "exit status $rc after the shell exited"
	grep -aq 'powering off' "$serial" || fail_with_log "no power-off message"
	[[ $(sha256sum <"$guest/disk.img") == "$sum0" ]] || fail_with_log "the default disk changed"
	echo "linux-test: 'exit' powered the guest off; status 0"
	;;
*)
	die "unknown mode '$mode'"
	;;
esac
echo "linux-test: $mode passed in $((SECONDS - t0)) s"
