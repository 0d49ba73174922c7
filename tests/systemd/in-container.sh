#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Runs inside the booted container of tests/check-systemd.sh, with the
# packages in /share. Each assertion appends "ok NAME" or "not ok NAME" to
# /share/results; a failure also prints what it saw and the unit's journal.
set -u
results=/share/results
: >"$results"

pass() {
        echo "ok $1" >>"$results"
}

fail() {
        echo "not ok $1" >>"$results"
        echo "--- $1: ${2:-}" >&2
        journalctl -u 'cotaskd*' --no-pager -n 25 -o short-monotonic >&2
}

# check NAME CMD...: CMD's exit status decides.
check() {
        local name=$1
        shift
        if "$@"; then pass "$name"; else fail "$name" "$*"; fi
}

# ping PORT: one line there and back through a tcp-echo task.
ping_port() {
        local line=
        exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
        printf 'ping %s\n' "$1" >&3
        IFS= read -r -t 5 line <&3
        exec 3<&-
        [[ $line == "ping $1" ]]
}

prop() {
        systemctl show -p "$2" --value "$1"
}

# until_true SECONDS CMD...: polls CMD every 0.1 s.
until_true() {
        local n=$(($1 * 10))
        shift
        for ((i = 0; i < n; i++)); do
                "$@" && return 0
                sleep 0.1
        done
        return 1
}

status_is() {
        [[ $(prop cotaskd StatusText) == "$1" ]]
}

journal_has() {
        local j
        j=$(journalctl -u "$1" --no-pager -o cat)
        grep -q -- "$2" <<<"$j"
}

dropin=/etc/cotaskd/conf.d/50-check.conf
write_dropin() {
        mkdir -p /etc/cotaskd/conf.d
        printf '%b' "$1" >"$dropin"
        chmod 644 "$dropin"
}

# ---- install ------------------------------------------------------------------
# The image's policy-rc.d forbids starting services from maintainer scripts.
rm -f /usr/sbin/policy-rc.d
check "dpkg -i installs the three packages" dpkg -i /share/cotaskd_*.deb /share/libcotask0_*.deb /share/libcotask-dev_*.deb
check "enabled after install" test "$(systemctl is-enabled cotaskd)" = enabled
check "active after install" test "$(systemctl is-active cotaskd)" = active
check "StatusText has the task summary" status_is "3 tasks: 3 running, 0 restarting"
check "the echo port answers" ping_port 7007
out=$(systemd-analyze verify /lib/systemd/system/cotaskd.service /lib/systemd/system/cotaskd.socket \
        /lib/systemd/system/cotaskd@demo.service 2>&1)
check "systemd-analyze verify of the installed units says nothing" test -z "$out"
[[ -z $out ]] || echo "$out" >&2
cat >/tmp/x.c <<'EOF'
#include <stdio.h>
#include <cotask/cotask.h>

static int hello(void *arg) {
        co_sleep(1000);
        printf("hello from %s\n", co_task_get_name(co_task_current()));
        return 0;
}

int main(void) {
        co_loop_t *loop = NULL;
        co_task_t *t = NULL;

        if (co_loop_new(&loop) < 0 || co_loop_spawn(loop, &t, "a task", hello, NULL, NULL) < 0)
                return 1;
        co_loop_run(loop);
        co_task_unref(t);
        co_loop_free(loop);
        return 0;
}
EOF
check "a program built against the installed libcotask-dev runs" \
        bash -c 'cc /tmp/x.c -o /tmp/x $(pkg-config --cflags --libs cotask) && [[ $(/tmp/x) == "hello from a task" ]]'
check "and statically" \
        bash -c 'cc /tmp/x.c -o /tmp/xs $(pkg-config --cflags cotask) -l:libcotask.a $(pkg-config --libs --static libevent_core) -lpthread &&
                [[ $(/tmp/xs) == "hello from a task" ]] && ! ldd /tmp/xs | grep -q libcotask'

# ---- reload ---------------------------------------------------------------------
write_dropin '[task extra]\ntype = tcp-echo\nlisten = 127.0.0.1:7008\n'
check "systemctl reload with a valid conf succeeds" systemctl reload cotaskd
# No retry: the new task must be serving when reload returns.
check "the reload was applied when systemctl returned" ping_port 7008
check "StatusText counts the new task" status_is "4 tasks: 4 running, 0 restarting"
write_dropin '[task extra]\ntype = tcp-echo\nlisten = 127.0.0.1:7008\nmax_connections = lots\n'
if systemctl reload cotaskd 2>/dev/null; then
        fail "systemctl reload with a broken conf reports failure"
else
        pass "systemctl reload with a broken conf reports failure"
fi
check "the journal says why, with file:line" journal_has cotaskd "reload failed: $dropin:4:"
check "still active after the broken reload" test "$(systemctl is-active cotaskd)" = active
check "the old configuration goes on" ping_port 7008
write_dropin '[task extra]\ntype = tcp-echo\nlisten = 127.0.0.1:7008\n'
check "a reload after the broken one is applied" systemctl reload cotaskd

# ---- the journal ------------------------------------------------------------------
check "journal records carry MESSAGE_ID, PRIORITY, TASK and CODE_* fields" python3 -c '
import json, subprocess, sys
recs = [json.loads(l) for l in subprocess.run(["journalctl", "-u", "cotaskd", "-o", "json", "--no-pager"],
        capture_output=True, text=True).stdout.splitlines()]
ours = [r for r in recs if r.get("SYSLOG_IDENTIFIER") == "cotaskd"]
need = {"MESSAGE", "MESSAGE_ID", "PRIORITY", "TASK", "CODE_FILE", "CODE_LINE", "CODE_FUNC"}
full = [r for r in ours if need <= r.keys()]
ids = {r.get("MESSAGE_ID") for r in ours}
sys.exit(0 if full and len(ids) >= 4 else 1)'

# ---- the watchdog -------------------------------------------------------------------
# SIGSTOP freezes the whole daemon, its loop with it: the pings stop.
mkdir -p /run/systemd/system/cotaskd.service.d
printf '[Service]\nWatchdogSec=2s\nTimeoutAbortSec=2s\n' >/run/systemd/system/cotaskd.service.d/watchdog.conf
systemctl daemon-reload
systemctl restart cotaskd
pid=$(prop cotaskd MainPID)
restarts=$(prop cotaskd NRestarts)
# (kill -STOP 0 would stop this script's own process group.)
[[ $pid -gt 1 ]] && kill -STOP "$pid"
check "a frozen loop ends in Result=watchdog" until_true 15 journal_has cotaskd "Failed with result 'watchdog'"
check "and a restart" until_true 10 bash -c "[[ \$(systemctl show -p NRestarts --value cotaskd) -gt $restarts &&
        \$(systemctl is-active cotaskd) == active ]]"
rm /run/systemd/system/cotaskd.service.d/watchdog.conf
systemctl daemon-reload
systemctl restart cotaskd

# ---- stop ---------------------------------------------------------------------------
child=$(pgrep -f 'while :; do echo "tick')
check "the exec task's child runs" test -n "$child"
# Enough open connections for tcp-echo to close them in batches (128 each)
# on its closing thread, which it starts off the loop's CPU: the unit's
# system call filter must let it set its CPUs.
conns=()
open_conns() {
        local fd line
        for ((i = 0; i < 200; i++)); do
                exec {fd}<>/dev/tcp/127.0.0.1/7007 || return 1
                conns+=("$fd")
                printf 'conn %s\n' "$i" >&"$fd"
                IFS= read -r -t 5 -u "$fd" line && [[ $line == "conn $i" ]] || return 1
        done
}
all_eof() {
        local fd line r
        for fd in "${conns[@]}"; do
                IFS= read -r -t 5 -u "$fd" line
                r=$?
                exec {fd}<&-
                ((r == 1)) && [[ -z $line ]] || return 1
        done
}
check "stop: 200 echo connections open and answered before it" open_conns
since=$(date '+%Y-%m-%d %H:%M:%S')
systemctl stop cotaskd
log=$(journalctl -u cotaskd --since "$since" --no-pager -o cat)
check "stop: each connection got an end of file" all_eof
check "stop: the closing thread's CPUs could be set under the unit's filter" \
        bash -c '! grep -q "could not be set" <<<"$1"' _ "$log"
for t in heartbeat ticker echo extra; do
        check "stop: task '$t' cleaned up" grep -q "task '$t' exited" <<<"$log"
done
check "stop: cotaskd stopped with exit 0" grep -q "cotaskd stopped (exit 0)" <<<"$log"
check "stop: the exec child is gone, stopped by cotaskd (not by systemd's kill)" \
        bash -c "! kill -0 $child 2>/dev/null && ! grep -q -e 'Killing process' -e 'remains running' <<<\"\$1\"" _ "$log"

# ---- socket activation ------------------------------------------------------------------
write_dropin '[task echo]\nlisten = systemd:echo\n'
systemctl start cotaskd.socket
check "cotaskd is not running before the first connection" test "$(systemctl is-active cotaskd)" = inactive
check "a connection to cotaskd.socket starts cotaskd, whose echo task serves it" ping_port 7007
check "cotaskd active after socket activation" test "$(systemctl is-active cotaskd)" = active
systemctl stop cotaskd.socket cotaskd
rm -f "$dropin"

# ---- an instance ---------------------------------------------------------------------------
# Its own drop-ins in demo.conf.d; the main conf.d's are not its.
printf '[task beat]\ntype = heartbeat\n[task echo]\ntype = tcp-echo\nlisten = 127.0.0.1:7010\n' >/etc/cotaskd/demo.conf
mkdir -p /etc/cotaskd/demo.conf.d
printf '[task beat2]\ntype = heartbeat\n' >/etc/cotaskd/demo.conf.d/10-more.conf
write_dropin '[task extra]\ntype = tcp-echo\nlisten = 127.0.0.1:7011\n'
chmod 644 /etc/cotaskd/demo.conf /etc/cotaskd/demo.conf.d/10-more.conf
systemctl start cotaskd cotaskd@demo
check "cotaskd@demo runs /etc/cotaskd/demo.conf beside cotaskd" \
        test "$(systemctl is-active cotaskd@demo)/$(systemctl is-active cotaskd)" = active/active
check "cotaskd@demo's echo answers" ping_port 7010
check "cotaskd@demo has its own three tasks, not the main drop-in's" \
        test "$(prop cotaskd@demo StatusText)" = "3 tasks: 3 running, 0 restarting"
check "and cotaskd its four" status_is "4 tasks: 4 running, 0 restarting"
systemctl stop cotaskd@demo
rm -r /etc/cotaskd/demo.conf /etc/cotaskd/demo.conf.d "$dropin"

# ---- upgrade and purge -----------------------------------------------------------------------
before=$(prop cotaskd InvocationID)
check "dpkg -i again (upgrade)" dpkg -i /share/cotaskd_*.deb
check "the upgrade restarted the service" bash -c "[[ \$(systemctl show -p InvocationID --value cotaskd) != $before &&
        \$(systemctl is-active cotaskd) == active ]]"
# conf.d is ours, not the package's: dpkg would rightly leave it.
rmdir /etc/cotaskd/conf.d
check "dpkg --purge" dpkg --purge cotaskd libcotask-dev libcotask0
check "purge: the unit is gone" test ! -e /lib/systemd/system/cotaskd.service
check "purge: the conf is gone" test ! -e /etc/cotaskd/cotaskd.conf -a ! -e /etc/cotaskd
check "purge: systemd no longer knows cotaskd" bash -c '[[ $(systemctl show -p LoadState --value cotaskd) == not-found ]]'
