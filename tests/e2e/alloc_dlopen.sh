#!/bin/bash
# alloc_dlopen: allocators that come and go while leaktrap is attached.
# alloc_dlopen dlopen()s a plugin with its own operator new and delete
# before attach (leaktrap hooks them: a C program has no other), then,
# attached: leaks through it and through glibc's malloc, dlopen()s a second
# plugin that brings its own malloc and free and leaks through it (not
# hooked: leaktrap reports none of those), dlclose()s the first plugin and
# puts other code where its operator new was. Checks: exact counts for the
# hooked allocators and none for the late one; `status` names the plugin
# loaded since attach (its malloc and free not hooked) and the one unloaded
# (with its hooks); leaktrap detaches without error and writes nothing
# where the unloaded plugin was (the target checks those bytes, and every
# file-backed code mapping is byte-identical across the detach); the
# target exits 0 on SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alloc_lib.bash"

# code_of NAME: keeps, of snapshot NAME, the file-backed code mappings
# (not the region leaktrap mapped), without the plugins (or with them only,
# if a second argument is given)
code_of() {
	local m=$T/$1/maps
	if [ -n "${2:-}" ]; then grep ' /.*/libplug_' "$m"; else grep ' /' "$m" | grep -v '/libplug_'; fi >"$m.f"
	mv "$m.f" "$m"
}

start_target alloc_dlopen
snap "$TPID" before
start_lt -p "$TPID" --every -ex 'sleep 3s' -ex status -ex "export json $T/report.json"
go_target 3
grep '^replaced_by' "$TOUT"
# every code mapping with a file behind it (the region leaktrap mapped has none)
snap "$TPID" mid
wait_lt 40
[ "$LTRC" = 0 ] || { fail "leaktrap exited with $LTRC"; tail -5 "$LTERR"; }
untraced "$TPID"
snap "$TPID" after
cp -r "$T/after" "$T/after.plugins"
code_of before; code_of after; code_of mid plugins; code_of after.plugins plugins
if check compare "$T/before" "$T/after"; then
	log "code identical to before attach ($(wc -l <"$T/before/maps") mappings, the plugins aside)"
else
	fail "code differs from before attach"
fi
# plug b was loaded while leaktrap was attached: untouched by the detach
if check compare "$T/mid" "$T/after.plugins"; then
	log "the plugins' code identical across the detach: $(awk '{ print $NF }' "$T/mid/maps" | sort -u | xargs)"
else
	fail "leaktrap changed a plugin's code at detach"
fi

LTOUT=$T/report.json check_sites "$TOUT" --src alloc_dlopen.c
status=$LTOUT
grep -A16 '^allocator' "$status"
grep -Eq '^  loaded since attach: /[^ ]*/libplug_malloc\.so \(unknown\), defines malloc, free: not hooked' "$status" ||
	fail "status does not say that libplug_malloc.so came after attach with a malloc and free not hooked"
grep -Eq '^  unloaded since attach: /[^ ]*/libplug_new_a\.so, with the hooks of operator new, operator delete' "$status" ||
	fail "status does not say that libplug_new_a.so and its hooks are gone"
grep -Eq '^  operator new +jmp +at 0x[0-9a-f]+ in /[^ ]*/libplug_new_a\.so' "$status" ||
	fail "status does not list operator new as hooked in libplug_new_a.so"
stop_target "$TPID" 0
finish
