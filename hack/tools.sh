#!/usr/bin/env bash
# hack/tools.sh [SET…] — build the pinned test bed tools (buildkitd, buildctl,
# buildx, registry) from hack/tools/go.mod into a cache folder OUTSIDE the
# repository, so a fresh clone (CI) reuses the binaries of an earlier run.
#
#   bin dir = ${STAGEX_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stagex/tools/<key>}/bin
#   <key>   = first 16 hex digits of sha256(<module>/go.mod + <module>/go.sum)
#
# SET is `test` (the default: the four tools above, module hack/tools) or one
# of the signing and scanning tools `cosign`, `kyverno`, `actionlint`, `grype`
# (grype and grype-mkdb, its offline database builder), `trivy`, each pinned in a
# module of its own, hack/tools-sign/<set> (their dependency graphs clash with
# buildkit's and with each other's). STAGEX_TOOLS_DIR applies to `test` only.
# `renovate` is the npm package pinned by hack/tools-renovate/package.json and
# package-lock.json (key: their sha256), installed with `npm ci` (install
# scripts off; the lock has no download URLs, npm takes them from its
# configured registry); its bin dir holds renovate and renovate-config-validator.
#
# Prints the bin dir of each SET on stdout, one line each, in order (progress
# goes to stderr). Skips the build when the set's binaries are there;
# otherwise builds into a temporary folder beside the cache folder and renames
# it into place, so a cut-short build never leaves a half-filled cache behind.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Several sets: one run per set, each printing its own bin dir.
if (($# > 1)); then
	for toolset in "$@"; do "${BASH_SOURCE[0]}" "$toolset"; done
	exit 0
fi
toolset=${1:-test}
case $toolset in
test)
	tools_mod="$here/tools"
	tools=(buildkitd buildctl buildx registry)
	pkgs=(
		github.com/moby/buildkit/cmd/buildkitd
		github.com/moby/buildkit/cmd/buildctl
		github.com/docker/buildx/cmd/buildx
		github.com/distribution/distribution/v3/cmd/registry
	)
	;;
cosign) tools_mod="$here/tools-sign/cosign" tools=(cosign) pkgs=(github.com/sigstore/cosign/v3/cmd/cosign) ;;
kyverno) tools_mod="$here/tools-sign/kyverno" tools=(kyverno) pkgs=(github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno) ;;
actionlint) tools_mod="$here/tools-sign/actionlint" tools=(actionlint) pkgs=(github.com/rhysd/actionlint/cmd/actionlint) ;;
grype) tools_mod="$here/tools-sign/grype" tools=(grype grype-mkdb) pkgs=(github.com/anchore/grype/cmd/grype ./mkdb) ;;
trivy) tools_mod="$here/tools-sign/trivy" tools=(trivy) pkgs=(github.com/aquasecurity/trivy/cmd/trivy) ;;
renovate) tools_mod="$here/tools-renovate" tools=(renovate renovate-config-validator) pkgs=() ;;
*)
	printf '[tools] error: unknown set %q (test, cosign, kyverno, actionlint, grype, trivy, renovate)\n' "$toolset" >&2
	exit 2
	;;
esac

log() { printf '[tools] %s\n' "$*" >&2; }
die() { printf '[tools] error: %s\n' "$*" >&2; exit 1; }

manifest=("$tools_mod/go.mod" "$tools_mod/go.sum")
if [[ $toolset == renovate ]]; then
	manifest=("$tools_mod/package.json" "$tools_mod/package-lock.json")
	command -v npm >/dev/null 2>&1 || die "npm not found on PATH (Renovate is an npm package; install Node.js 20 or 22)"
	# The pinned Renovate's engines.node: ^20.15.1 || ^22.11.0 (Debian 12's
	# nodejs 18 is too old).
	node_v=$(node --version 2>/dev/null || true)
	[[ $node_v =~ ^v(20\.(1[5-9]|[2-9][0-9])|22\.(1[1-9]|[2-9][0-9]))\. ]] ||
		die "Node.js ${node_v:-not found}: the pinned Renovate needs ^20.15.1 or ^22.11.0"
elif ! command -v go >/dev/null 2>&1; then
	[[ -x /usr/local/go/bin/go ]] || die "go not found on PATH"
	PATH="/usr/local/go/bin:$PATH"
fi

key=$(cat "${manifest[@]}" | sha256sum | cut -c1-16)
root=${XDG_CACHE_HOME:-$HOME/.cache}/stagex/tools/$key
[[ $toolset == test ]] && root=${STAGEX_TOOLS_DIR:-$root}
bin="$root/bin"

complete() {
	local t
	for t in "${tools[@]}"; do [[ -x "$1/$t" ]] || return 1; done
}

if complete "$bin"; then
	log "cached: $bin"
	echo "$bin"
	exit 0
fi

parent=$(dirname "$root")
mkdir -p "$parent"
tmp=$(mktemp -d "$parent/.$(basename "$root").tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [[ $toolset == renovate ]]; then
	log "installing ${tools[*]} (pinned in ${tools_mod#"$(dirname "$here")/"}/package-lock.json, key $key)"
	start=$SECONDS
	cp "${manifest[@]}" "$tools_mod/.npmrc" "$tmp/"
	# Install scripts stay off: Renovate runs without its optional native
	# modules (its regex engine falls back to JavaScript's).
	(cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
	mkdir -p "$tmp/bin"
	for t in "${tools[@]}"; do ln -s "../node_modules/.bin/$t" "$tmp/bin/$t"; done
	complete "$tmp/bin" || die "npm ci finished but ${tools[*]} are missing in $tmp/bin"
	log "installed in $((SECONDS - start))s"
fi

if [[ $toolset != renovate ]]; then
	log "building ${tools[*]} (pinned in ${tools_mod#"$(dirname "$here")/"}/go.mod, key $key)"
	log "into $bin — the first build takes several minutes"
	start=$SECONDS
	(
		cd "$tools_mod"
		export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly"
		log "downloading modules…"
		go mod download
		# Stamp the versions that go.mod pins, as the upstream release builds do.
		ver() { go list -m -f '{{.Version}}' "$1"; }
		ldflags="-s -w"
		case $toolset in
		test)
			ldflags+=" -X github.com/moby/buildkit/version.Version=$(ver github.com/moby/buildkit)"
			ldflags+=" -X github.com/docker/buildx/version.Version=$(ver github.com/docker/buildx)"
			ldflags+=" -X github.com/distribution/distribution/v3/version.version=$(ver github.com/distribution/distribution/v3)"
			;;
		cosign) ldflags+=" -X sigs.k8s.io/release-utils/version.gitVersion=$(ver github.com/sigstore/cosign/v3)" ;;
		kyverno) ldflags+=" -X github.com/kyverno/kyverno/pkg/version.BuildVersion=$(ver github.com/kyverno/kyverno)" ;;
		actionlint) ldflags+=" -X github.com/rhysd/actionlint.version=$(ver github.com/rhysd/actionlint)" ;;
		grype) v=$(ver github.com/anchore/grype) && ldflags+=" -X main.version=${v#v}" ;;
		# Trivy uses encoding/json/v2, which Go builds only with this experiment
		# (as Trivy's release build does).
		trivy) v=$(ver github.com/aquasecurity/trivy) && ldflags+=" -X github.com/aquasecurity/trivy/pkg/version/app.ver=${v#v}" && export GOEXPERIMENT=jsonv2 ;;
		esac
		log "compiling…"
		go build -trimpath -ldflags="$ldflags" -o "$tmp/bin/" "${pkgs[@]}"
		# The Kyverno CLI's package is named for kubectl's plugin lookup.
		if [[ $toolset == kyverno ]]; then mv "$tmp/bin/kubectl-kyverno" "$tmp/bin/kyverno"; fi
		# The offline database builder beside it (hack/tools-sign/grype/mkdb).
		if [[ $toolset == grype ]]; then mv "$tmp/bin/mkdb" "$tmp/bin/grype-mkdb"; fi
	)
	complete "$tmp/bin" || die "build finished but binaries are missing in $tmp/bin"
	log "built in $((SECONDS - start))s"
fi

# Rename into place. A concurrent run may have won the race: keep its result.
if [[ -e "$root" ]] && ! complete "$bin"; then
	rm -rf "$root"
fi
if ! mv -T "$tmp" "$root" 2>/dev/null; then
	complete "$bin" || die "could not move $tmp to $root"
	log "another build finished first; using it"
fi
trap - EXIT
rm -rf "$tmp"
log "ready: $bin"
echo "$bin"
