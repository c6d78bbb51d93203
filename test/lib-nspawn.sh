# test/lib-nspawn.sh - boot a real systemd as PID 1 in a systemd-nspawn
# container, on any host (its own PID 1 need not be systemd), install the
# smtpd package and unit files into it, run clients against it, power it off.
# Sourced after lib.sh:
#
#	. "$TEST_DIR/lib-nspawn.sh"
#	nspawn_require                  # skips the script when it cannot work
#	nspawn_build_deb "$TRASH/deb"   # -> $NSPAWN_DEB
#	nspawn_boot                     # -> $NSPAWN_INIT, the container's PID 1
#	nspawn_install_deb "$NSPAWN_DEB"  # dpkg -i inside, or:
#	nspawn_install_units etc/systemd/x.socket ...  # into /etc/systemd/system
#	ct systemctl enable --now x.socket  # a command inside the container
#	ct_net swaks --server 127.0.0.1 ...  # a host command in its network
#	ct_dropin x@.service name <<<...  # a drop-in; ct_dropins_clear
#	c=$(ct_cursor); ...; ct_journal_wait "$c" REGEX [FIELD=VALUE]
#	nspawn_poweroff                 # also done by the EXIT trap
#
# NSPAWN_MEMORY=1 nspawn_boot gives the container's systemd the memory
# controller (MemoryMax=) on a host like this one (see nspawn_memory_rw).
#
# The OS tree (Debian bookworm, minbase plus systemd) is made once with
# debootstrap from the mirror apt uses, and kept in $SMTPD_NSPAWN_TREE;
# `bash test/lib-nspawn.sh build` makes it up front (CI does). Every boot
# is --volatile=overlay: whatever a test changes lives in a tmpfs and is
# gone at power-off, so the tree stays pristine and tests cannot disturb
# each other through it. The container has a network of its own with only
# its loopback (--private-network): its listeners are invisible to the
# host, and nothing in it can reach anything else.
#
# Boots are serialized with a lock. systemd-nspawn --keep-unit puts a
# container's cgroups (payload/, supervisor/) below the cgroup of whoever
# starts it, so each boot here starts nspawn in a fresh cgroup of its own,
# removed again after power-off.

NSPAWN_TREE=${SMTPD_NSPAWN_TREE:-/var/tmp/smtpd-nspawn-tree}
NSPAWN_LOCK=${SMTPD_NSPAWN_LOCK:-/var/tmp/smtpd-nspawn.lock}
# The packages the tree gets beyond minbase: systemd to boot, and what the
# package's maintainer scripts and the tests use inside.
NSPAWN_PACKAGES=systemd,systemd-sysv,libnss-systemd,adduser
# What a finished tree was made from; a tree made otherwise is made anew.
NSPAWN_STAMP="bookworm minbase $NSPAWN_PACKAGES"
NSPAWN_PID=
NSPAWN_INIT=
NSPAWN_CGROUPS=
NSPAWN_LOG=

nspawn_log() {
	printf '[%(%T)T] %s\n' -1 "$*" >&2
}

# The Debian mirror apt already uses (deb822 or one-line sources).
nspawn_mirror() {
	{
		awk '/^URIs:/ { u = $2 } /^Suites:/ && / bookworm( |$)/ { print u; exit }' \
			/etc/apt/sources.list.d/*.sources 2>/dev/null
		grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list \
			/etc/apt/sources.list.d/*.list 2>/dev/null |
			grep -v security | grep -oE '[a-z]+://[^ ]+'
	} | head -n 1
}

nspawn_tree_ready() {
	[ "$(cat "$NSPAWN_TREE/.smtpd-tree-complete" 2>/dev/null)" = "$NSPAWN_STAMP" ]
}

# Makes $NSPAWN_TREE unless it is there (about 50 s). Built beside it and
# renamed into place, under the lock, so a half-made tree is never used.
nspawn_build_tree() {
	local new=$NSPAWN_TREE.new.$$ mirror t
	nspawn_tree_ready && return 0
	(
		flock -w 600 9 || { echo "cannot lock $NSPAWN_LOCK" >&2; exit 1; }
		nspawn_tree_ready && exit 0
		mirror=$(nspawn_mirror)
		[ -n "$mirror" ] || { echo "no Debian mirror in the apt sources" >&2; exit 1; }
		nspawn_log "debootstrap bookworm from $mirror into $NSPAWN_TREE"
		t=$SECONDS
		rm -rf "$new"
		debootstrap --variant=minbase --include="$NSPAWN_PACKAGES" \
			bookworm "$new" "$mirror" >"$new.log" 2>&1 ||
			{ tail -n 20 "$new.log" >&2; rm -rf "$new"; exit 1; }
		rm -rf "$new"/var/cache/apt/archives/*.deb "$new"/var/lib/apt/lists/*
		# No name server: a look-up fails at once (nothing listens on
		# 127.0.0.1:53 in the container), and never leaves it.
		printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' \
			>"$new/etc/resolv.conf"
		printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n' \
			>"$new/etc/hosts"
		echo smtpd-test >"$new/etc/hostname"
		# A fresh machine ID each boot (the overlay keeps none).
		: >"$new/etc/machine-id"
		rm -rf "$NSPAWN_TREE" && mv "$new" "$NSPAWN_TREE" &&
			rm -f "$new.log" &&
			echo "$NSPAWN_STAMP" >"$NSPAWN_TREE/.smtpd-tree-complete" || exit 1
		nspawn_log "tree built in $((SECONDS - t)) s, $(du -sh "$NSPAWN_TREE" | cut -f1)"
	) 9>>"$NSPAWN_LOCK"
}

# Whether containers can be booted here (building the tree if it is
# missing); if not, NSPAWN_WHY says why.
nspawn_available() {
	NSPAWN_WHY=
	if ! test_have_prereq ROOT; then
		NSPAWN_WHY="needs root"
	elif ! command -v systemd-nspawn >/dev/null; then
		NSPAWN_WHY="no systemd-nspawn (package systemd-container)"
	elif ! nspawn_tree_ready; then
		if ! command -v debootstrap >/dev/null; then
			NSPAWN_WHY="no $NSPAWN_TREE and no debootstrap to make it"
		elif ! nspawn_build_tree; then
			NSPAWN_WHY="could not make the OS tree $NSPAWN_TREE"
		fi
	fi
	[ -z "$NSPAWN_WHY" ]
}

# Skips the whole script unless containers can be booted here.
nspawn_require() {
	nspawn_available || test_skip_all "$NSPAWN_WHY"
}

# Builds the Debian package from a copy of the work tree (so nothing lands
# in it) under DIR; sets NSPAWN_DEB to the .deb.
nspawn_build_deb() {
	local dir=$1
	# The files git knows or would add; one deleted from the work tree is
	# passed over (tar --ignore-failed-read), not copied.
	rm -rf "$dir" && mkdir -p "$dir/src" &&
		(cd "$SRC_DIR" && git ls-files -z -co --exclude-standard |
			tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
			tar -xf - -C "$dir/src" &&
		(cd "$dir/src" && dpkg-buildpackage -us -uc -b) >"$dir/build.log" 2>&1 ||
		{ tail -n 30 "$dir/build.log"; return 1; }
	NSPAWN_DEB=$(ls "$dir"/smtpd_*.deb) && [ -f "$NSPAWN_DEB" ]
}

# The cgroup hierarchies a container gets: the named v1 one (hybrid hosts
# like this one) and/or the unified one; with NSPAWN_MEMORY=1 also the v1
# memory one. Prints "MOUNT CGROUP" pairs, CGROUP being our own.
nspawn_cgroup_bases() {
	local v1 v2 mem
	v1=$(awk -F: '$2 == "name=systemd" { print $3 }' /proc/self/cgroup)
	v2=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
	mem=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
	if [ -n "$v1" ] && [ -d /sys/fs/cgroup/systemd ]; then
		echo "/sys/fs/cgroup/systemd ${v1%/}"
		[ -n "$v2" ] && [ -d /sys/fs/cgroup/unified ] &&
			echo "/sys/fs/cgroup/unified ${v2%/}"
		[ "${NSPAWN_MEMORY:-}" = 1 ] && [ -n "$mem" ] &&
			echo "/sys/fs/cgroup/memory ${mem%/}"
	elif [ -n "$v2" ]; then
		echo "/sys/fs/cgroup ${v2%/}"
	fi
}

# ct CMD...: runs CMD inside the container (all its namespaces).
ct() {
	nsenter -t "$NSPAWN_INIT" -a -- "$@"
}

# ct_net CMD...: runs a host command in the container's network only.
ct_net() {
	nsenter -t "$NSPAWN_INIT" -n -- "$@"
}

# nspawn_boot [nspawn options]: boots the tree, waits (at most 60 s) until
# systemd says running or degraded. The lock is held until power-off.
# NSPAWN_LOCK_SECONDS is how long it waited for the lock,
# NSPAWN_BOOT_SECONDS how long the boot took.
nspawn_boot() {
	local base mnt name dir i c st t=$SECONDS
	exec 8>>"$NSPAWN_LOCK"
	flock -w 600 8 || { echo "cannot lock $NSPAWN_LOCK" >&2; return 1; }
	NSPAWN_LOCK_SECONDS=$((SECONDS - t))
	t=$SECONDS
	# One name in every hierarchy: on a hybrid host nspawn makes the
	# unified cgroup's path in the named hierarchy as well.
	name=smtpd-nspawn.$$.$RANDOM
	NSPAWN_CGROUPS=
	while read -r mnt base; do
		dir=$mnt$base/$name
		mkdir "$dir" && NSPAWN_CGROUPS="$NSPAWN_CGROUPS $dir"
		[ "$mnt" = /sys/fs/cgroup/unified ] &&
			NSPAWN_CGROUPS="$NSPAWN_CGROUPS /sys/fs/cgroup/systemd$base/$name"
	done < <(nspawn_cgroup_bases)
	NSPAWN_LOG=$TRASH/nspawn.$$.log
	# The child moves itself into the new cgroups, then becomes nspawn.
	setsid bash -c '
		for d in $1; do [ -d "$d" ] || continue; echo $$ >"$d/cgroup.procs" || exit 99; done
		shift
		exec systemd-nspawn "$@"' nspawn "$NSPAWN_CGROUPS" \
		-D "$NSPAWN_TREE" --volatile=overlay --register=no --keep-unit \
		--private-network --resolv-conf=off --timezone=off \
		--link-journal=no --console=passive -M smtpd-test "$@" -b \
		>"$NSPAWN_LOG" 2>&1 </dev/null &
	NSPAWN_PID=$!
	NSPAWN_INIT=
	for i in $(seq 600); do
		for c in $(pgrep -P "$NSPAWN_PID"); do
			[[ $(readlink "/proc/$c/exe" 2>/dev/null) == */systemd ]] &&
				NSPAWN_INIT=$c
		done
		[ -n "$NSPAWN_INIT" ] && break
		kill -0 "$NSPAWN_PID" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$NSPAWN_INIT" ] ||
		{ echo "no systemd in the container" >&2; cat "$NSPAWN_LOG" >&2; return 1; }
	for i in $(seq 600); do
		st=$(ct systemctl is-system-running 2>/dev/null)
		case $st in running | degraded) break ;; esac
		sleep 0.1
	done
	NSPAWN_BOOT_SECONDS=$((SECONDS - t))
	[ "${NSPAWN_MEMORY:-}" = 1 ] && { nspawn_memory_rw || return 1; }
	case $st in
	running) ;;
	degraded) ct systemctl --failed --no-pager >&2 ;;
	*) echo "container state '$st' after 60 s" >&2; return 1 ;;
	esac
}

# ct_put FILE PATH [MODE]: copies a host file into the container.
ct_put() {
	ct sh -c 'cat >"$1" && chmod "$2" "$1"' sh "$2" "${3:-644}" <"$1"
}

# nspawn_install_deb DEB: dpkg -i inside the container, as an admin would
# (the maintainer scripts run against the container's systemd).
nspawn_install_deb() {
	ct_put "$1" /var/tmp/install.deb &&
		ct dpkg -i /var/tmp/install.deb &&
		ct rm -f /var/tmp/install.deb
}

# nspawn_install_units FILE...: unit files from the source tree into
# /etc/systemd/system (their /usr/local paths made /usr, as `make install
# PREFIX=/usr` does), then daemon-reload.
nspawn_install_units() {
	local f
	for f in "$@"; do
		sed -e 's,/usr/local/sbin,/usr/sbin,g' -e 's,/usr/local/bin,/usr/bin,g' \
			"$f" >"$TRASH/unit.tmp" &&
			ct_put "$TRASH/unit.tmp" "/etc/systemd/system/$(basename "$f")" ||
			return 1
	done
	ct systemctl daemon-reload
}

# ct_dropin UNIT NAME: stdin becomes the drop-in UNIT.d/NAME.conf (under
# /run, so it is gone at power-off); daemon-reload. ct_dropins_clear
# removes every drop-in made so.
ct_dropin() {
	ct sh -c 'mkdir -p "/run/systemd/system/$1.d" &&
		cat >"/run/systemd/system/$1.d/$2.conf"' sh "$1" "$2" &&
		ct systemctl daemon-reload
}
ct_dropins_clear() {
	ct sh -c 'rm -rf /run/systemd/system/*.d' && ct systemctl daemon-reload
}

# The journal's position now.
ct_cursor() {
	ct journalctl -n 0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p'
}

# ct_journal_since CURSOR [FIELD=VALUE...]: the MESSAGE (or the field named
# by $SHOW) of each entry after CURSOR that has every FIELD=VALUE. Filtered
# here, not by journalctl: systemd 252's journalctl --after-cursor with a
# match (-t smtpd) skips the first matching entry when the cursor's own
# entry does not match.
ct_journal_since() {
	local cursor=$1
	shift
	ct journalctl --after-cursor="$cursor" --no-pager -o json | python3 -c '
import json, sys
want = dict(a.split("=", 1) for a in sys.argv[2:])
for line in sys.stdin:
    entry = json.loads(line)
    if all(entry.get(k) == v for k, v in want.items()):
        value = entry.get(sys.argv[1])
        if isinstance(value, list):  # not UTF-8: an array of octets
            value = bytes(value).decode("utf-8", "replace")
        if value is not None:
            print(value)
' "${SHOW:-MESSAGE}" "$@"
}

# ct_journal_wait CURSOR REGEX [FIELD=VALUE...]: waits (at most 20 s) for a
# message matching REGEX after CURSOR; prints the matching messages.
ct_journal_wait() {
	local cursor=$1 re=$2 i
	shift 2
	for i in $(seq 100); do
		ct_journal_since "$cursor" "$@" | grep -E "$re" && return 0
		sleep 0.2
	done
	echo "no journal line /$re/ after 20 s" >&2
	return 1
}

# systemd-nspawn mounts the v1 controllers read-only in the container, so
# on a hybrid host its systemd cannot apply MemoryMax= (it says nothing and
# goes on). With NSPAWN_MEMORY=1 the container was started in a memory
# cgroup of our own, its root there; this makes that mount writable (this
# mount point only, in the container's mount namespace), so the limits of
# units started from now on are the kernel's.
nspawn_memory_rw() {
	local i
	[ -d /sys/fs/cgroup/memory ] || return 0
	# systemd reads which controllers it may use when it starts: reexec.
	nsenter -t "$NSPAWN_INIT" -m -- mount -o remount,bind,rw /sys/fs/cgroup/memory &&
		ct systemctl daemon-reexec || return 1
	for i in $(seq 100); do
		case $(ct systemctl is-system-running 2>/dev/null) in
		running | degraded) return 0 ;;
		esac
		sleep 0.1
	done
	echo "no systemd after daemon-reexec" >&2
	return 1
}

# Powers the container off (SIGRTMIN+4 to its systemd), waits at most 30 s,
# then kills nspawn; removes the cgroups; releases the lock.
nspawn_poweroff() {
	local i d
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		[ -n "$NSPAWN_INIT" ] && kill -s RTMIN+4 "$NSPAWN_INIT" 2>/dev/null
		for i in $(seq 300); do
			kill -0 "$NSPAWN_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$NSPAWN_PID" 2>/dev/null && kill -KILL "$NSPAWN_PID"
	fi
	[ -n "$NSPAWN_PID" ] && wait "$NSPAWN_PID" 2>/dev/null
	NSPAWN_PID= NSPAWN_INIT=
	# Emptied cgroups may take a moment to become removable.
	for d in $NSPAWN_CGROUPS; do
		for i in $(seq 50); do
			find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
			[ -d "$d" ] || break
			sleep 0.1
		done
		[ -d "$d" ] && echo "cgroup $d left behind" >&2
	done
	# nspawn's own state directory, when it is empty (as after our boot).
	rmdir /run/systemd/nspawn/locks /run/systemd/nspawn/propagate \
		/run/systemd/nspawn 2>/dev/null
	NSPAWN_CGROUPS=
	flock -u 8 2>/dev/null
	exec 8>&-
	return 0
}

# `bash test/lib-nspawn.sh build`: makes the tree (CI runs it up front).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	[ "${1:-}" = build ] || { echo "usage: $0 build" >&2; exit 64; }
	nspawn_build_tree
	exit
fi
trap 'nspawn_poweroff; rm -rf "$TRASH"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
