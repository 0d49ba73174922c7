#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check-systemd.sh BUILD_DIR: the Debian packages in BUILD_DIR, installed
# and driven in a real, booted systemd. The machine's own OS is booted in
# systemd-nspawn on a throw-away overlay (all writes go to tmpfs) with a
# private network, the .debs are installed with dpkg -i, and everything is
# asserted through systemctl and journalctl inside it. Needs root.
#
# Prints "check: N passed, N failed" like tests/run-tests.sh. The container
# is torn down whatever happens (poweroff, then SIGTERM, then SIGKILL).
set -uo pipefail

build=${1:?usage: $0 BUILD_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
passed=0
failed=0
start=$SECONDS

if [[ $(id -u) != 0 ]]; then
        echo "check-systemd: needs root (mounts, systemd-nspawn)" >&2
        exit 1
fi
shopt -s nullglob
debs=("$build"/cotaskd_*.deb "$build"/libcotask0_*.deb "$build"/libcotask-dev_*.deb)
if [[ ${#debs[@]} != 3 ]]; then
        echo "check-systemd: expected the three .debs in $build (make deb)" >&2
        exit 1
fi

work=$(mktemp -d /tmp/cotaskd-nspawn.XXXXXX)
nspawn_pid=
pid1=

cleanup() {
        if [[ -n $pid1 ]]; then
                in_ct systemctl poweroff --no-block >/dev/null 2>&1
        fi
        if [[ -n $nspawn_pid ]]; then
                for _ in $(seq 100); do
                        kill -0 "$nspawn_pid" 2>/dev/null || break
                        sleep 0.1
                done
                # An early SIGTERM can be lost: systemd may not handle it yet.
                for sig in TERM TERM KILL; do
                        kill -0 "$nspawn_pid" 2>/dev/null || break
                        kill -s "$sig" "$nspawn_pid" 2>/dev/null
                        sleep 1
                done
                wait "$nspawn_pid" 2>/dev/null
        fi
        umount "$work/root" 2>/dev/null
        rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# in_ct CMD...: runs CMD inside the container, in all its namespaces, in
# a session of its own (a signal to its process group stays in there).
in_ct() {
        setsid -w nsenter -t "$pid1" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}

ok() {
        passed=$((passed + 1))
        echo "[       OK ] $1"
}

not_ok() {
        failed=$((failed + 1))
        echo "[  FAILED  ] $1"
}

# ---- boot -----------------------------------------------------------------------
mkdir -p "$work/root" "$work/share"
cp "${debs[@]}" "$work/share/"
cp "$here/systemd/"* "$work/share/"
mount --bind / "$work/root"
setsid systemd-nspawn -q -D "$work/root" --volatile=overlay --register=no --keep-unit \
        -M "cotaskd-check-$$" --private-network --boot --console=passive \
        --bind="$work/share:/share" -- systemd.mask=postgresql.service \
        </dev/null >"$work/nspawn.log" 2>&1 &
nspawn_pid=$!

for _ in $(seq 200); do
        for c in /proc/"$nspawn_pid"/task/*/children; do
                for p in $(cat "$c" 2>/dev/null); do
                        [[ $(cat /proc/"$p"/comm 2>/dev/null) == systemd ]] && pid1=$p
                done
        done
        [[ -n $pid1 ]] && break
        sleep 0.05
done
if [[ -z $pid1 ]]; then
        echo "check-systemd: the container did not boot:" >&2
        cat "$work/nspawn.log" >&2
        exit 1
fi
for _ in $(seq 100); do
        state=$(in_ct systemctl is-system-running --wait 2>/dev/null) && break
        [[ $state == degraded ]] && break
        sleep 0.1
done
echo "check-systemd: booted ($state) in $((SECONDS - start)) s"

# ---- the assertions, in the container ------------------------------------------
# One script inside, rather than an nsenter per command: it writes
# "ok NAME" / "not ok NAME" lines to /share/results.
in_ct bash /share/in-container.sh
rc=$?
while read -r line; do
        case $line in
        "ok "*) ok "${line#ok }" ;;
        "not ok "*) not_ok "${line#not ok }" ;;
        esac
done <"$work/share/results"
if [[ $rc != 0 && ! -s $work/share/results ]]; then
        not_ok "in-container script (exit $rc)"
fi
echo "check-systemd: $((SECONDS - start)) s"
echo "check: $passed passed, $failed failed"
[[ $failed == 0 ]]
