# Run by the Dockerfile's stage "test" with busybox's sh, inside the composed reference
# application image: start the service, ask it on loopback, compare the answers with
# expected/, and leave them in /tmp/hello-service-test/ for the stage test-result.
set -eu
bb=/probe/usr/bin/busybox
out=/tmp/hello-service-test
$bb mkdir -p "$out"

/usr/local/bin/hello-service -addr 127.0.0.1:8080 2>"$out/service.log" &
pid=$!
i=0
until $bb wget -q -O "$out/root.json" http://127.0.0.1:8080/ 2>/dev/null; do
	i=$((i + 1))
	if [ "$i" -ge 100 ]; then
		echo "hello-service did not answer on 127.0.0.1:8080 within 10 s" >&2
		$bb cat "$out/service.log" >&2
		exit 1
	fi
	$bb sleep 0.1
done
$bb wget -q -O "$out/healthz.txt" http://127.0.0.1:8080/healthz
kill "$pid"
wait "$pid" || true

for f in root.json healthz.txt; do
	if ! $bb cmp "/probe-test/expected/$f" "$out/$f"; then
		echo "GET ${f%.*}: got:" >&2
		$bb cat "$out/$f" >&2
		echo "want:" >&2
		$bb cat "/probe-test/expected/$f" >&2
		exit 1
	fi
	echo "ok: $f = $($bb cat "$out/$f")"
done
