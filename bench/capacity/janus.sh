# Janus for bench/capacity/run.sh (sourced): Debian's janus (apt-get install -y janus) with its
# VideoRoom plugin and WebSocket transport, in a network namespace of its own (Janus skips
# loopback interfaces for ICE), behind a veth pair: 10.213.N.1 on our side (the generator's
# peers bind it), 10.213.N.2 inside (Janus's media and its WebSocket API on port 8188).
# JANUS_EVENT_LOOPS (default 1): Janus's media threads; its default (0) is one per handle.
# Defines janus_step N, which starts a fresh Janus pinned to SERVER_CPU, runs the generator
# with --janus 1 and stops Janus; the namespace goes with the bench's cleanup.

janus_ns= janus_host_if= janus_host_ip= janus_ns_ip=

janus_setup() {
	command -v janus >/dev/null || { echo "janus: not installed (apt-get install -y janus)" >&2; return 1; }
	local n
	for n in $(seq 200 250); do
		ip -o -4 addr show | grep -q " 10\.213\.$n\." || break
	done
	janus_ns=mdg-cap-$$ janus_host_if=mc$$h janus_host_ip=10.213.$n.1 janus_ns_ip=10.213.$n.2
	local ns_if=mc$$n
	ip netns add "$janus_ns"
	ip netns exec "$janus_ns" ip link set lo up
	ip link add "$janus_host_if" type veth peer name "$ns_if"
	ip link set "$ns_if" netns "$janus_ns"
	ip addr add "$janus_host_ip/24" dev "$janus_host_if"
	ip link set "$janus_host_if" up
	ip netns exec "$janus_ns" ip addr add "$janus_ns_ip/24" dev "$ns_if"
	ip netns exec "$janus_ns" ip link set "$ns_if" up
	ip netns exec "$janus_ns" ip route add default via "$janus_host_ip"
	local conf=$tmp/janus
	mkdir -p "$conf"
	cat >"$conf/janus.jcfg" <<CONF
general: {
	configs_folder = "$conf"
	plugins_folder = "/usr/lib/x86_64-linux-gnu/janus/plugins"
	transports_folder = "/usr/lib/x86_64-linux-gnu/janus/transports"
	events_folder = "/usr/lib/x86_64-linux-gnu/janus/events"
	loggers_folder = "/usr/lib/x86_64-linux-gnu/janus/loggers"
	debug_level = 3
	session_timeout = 0
	event_loops = ${JANUS_EVENT_LOOPS:-1}
}
media: {
	ipv6 = false
	rtp_port_range = "20000-40000"
}
nat: {
	ice_enforce_list = "$ns_if"
}
plugins: {
	disable = "libjanus_audiobridge.so,libjanus_duktape.so,libjanus_echotest.so,libjanus_lua.so,libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,libjanus_streaming.so,libjanus_textroom.so,libjanus_videocall.so,libjanus_voicemail.so"
}
transports: {
	disable = "libjanus_http.so,libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so,libjanus_rabbitmq.so"
}
loggers: {
	disable = "libjanus_jsonlog.so"
}
events: {
	broadcast = false
}
CONF
	cat >"$conf/janus.transport.websockets.jcfg" <<CONF
general: {
	json = "plain"
	ws = true
	ws_port = 8188
	ws_ip = "$janus_ns_ip"
	wss = false
}
admin: {
	admin_ws = false
	admin_wss = false
}
CONF
	cat >"$conf/janus.plugin.videoroom.jcfg" <<CONF
general: {
}
CONF
}

janus_teardown() {
	[ -n "$janus_ns" ] || return 0
	ip link del "$janus_host_if" 2>/dev/null || true
	ip netns del "$janus_ns" 2>/dev/null || true
	janus_ns=
}

janus_step() {
	local n=$1 log=$tmp/janus-$n.log
	if [ -z "$janus_ns" ]; then janus_setup || return 1; fi
	ip netns exec "$janus_ns" "${pin_server[@]}" janus -C "$tmp/janus/janus.jcfg" \
		-F "$tmp/janus" >"$log" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		grep -q 'WebSockets server started' "$log" 2>/dev/null && break
		kill -0 "$server_pid" 2>/dev/null || { tail -20 "$log" >&2; return 1; }
		sleep 0.1
	done
	sleep 1
	idle_rss=$(rss_kib "$server_pid")
	local out drops0 drops
	drops0=$(udp_drops)
	out=$("${pin_gen[@]}" "$loadgen" --janus 1 --url "ws://$janus_ns_ip:8188/" --calls "$n" \
		--seconds "$secs" --warmup "$warmup" --procs "$procs" --kbps "$kbps" \
		--departments "$depts" --server-pid "$server_pid" --bind-ip "$janus_host_ip") || true
	echo "$out" | sed 's/^/  /'
	step_result=$(grep '^RESULT ' <<<"$out" | tail -1)
	drops=$(udp_drops)
	echo "  kernel: $((drops - drops0)) UDP datagrams dropped for full receive buffers during the step"
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}
