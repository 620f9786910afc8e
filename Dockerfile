# The frontend image: one static binary FROM scratch.
#
# No "# syntax=" line on purpose: the built-in Dockerfile frontend is enough,
# and an offline builder must not have to pull a syntax image.
#
# Targets:
#   frontend           (default) builds the binary from source in StageX's pallet-go
#   frontend-prebuilt  packs a binary built outside, taken from the build context
#                      (the test bed and offline CI use it; see internal/frontendimage)
#
# Reproducible without the exporter's rewrite-timestamp (which would re-tar the
# layer on every build, even a cached one): the layer is bin/ and bin/frontend,
# copied as a tree (COPY <dir>/ /) so that both keep the times they have in
# the source, set to SOURCE_DATE_EPOCH there (by the build stage's touch), or
# unpacked from a tar (frontend-prebuilt). A COPY to /bin/frontend would create
# /bin at the wall-clock time: BuildKit (v0.34.2) gives the parent folders a
# COPY creates no SOURCE_DATE_EPOCH time, nor does COPY --parents.

# pallet-go 1.26.0 (its linux/amd64 image manifest digest; renovate.json keeps
# version and digest current, with docker-bake.hcl's PALLET_GO_DIGEST).
ARG GO_IMAGE=docker.io/stagex/pallet-go@sha256:4b7f9fe27d84dd9109fe89c4dab1cefdd66bf2f670817ef95ffd335b84fdf2cb

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath GOTOOLCHAIN=local
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# -tags grpcnotrace: see frontendimage.BuildTags (a third of the binary).
RUN go build -tags grpcnotrace -ldflags="-s -w -buildid=" -o /out/bin/frontend ./cmd/frontend
# After the build, so that another epoch reuses the compiled binary. The
# default is the bake file's; it also overrides pallet-go's own
# SOURCE_DATE_EPOCH environment variable. The tree moves to a folder named
# after the epoch: BuildKit's cache key of a COPY leaves the source's times
# out, so `COPY --from=build /out/ /` would reuse a layer copied at another
# epoch; the folder's name puts the epoch into the frontend stage's COPY.
ARG SOURCE_DATE_EPOCH=0
RUN mkdir "/out-${SOURCE_DATE_EPOCH}" && mv /out/bin "/out-${SOURCE_DATE_EPOCH}/" && \
    touch -d "@${SOURCE_DATE_EPOCH}" "/out-${SOURCE_DATE_EPOCH}/bin/frontend" "/out-${SOURCE_DATE_EPOCH}/bin"

# The binary is /bin/frontend in both targets: with STAGEX_CHECK on, the
# frontend runs its own image's /bin/frontend inside the build (the check and
# the smoke tests; frontend/check.go), so the path is part of the contract.

# frontend-prebuilt expects the build context to hold frontend.tar: bin/ and
# bin/frontend with their owner, mode and times (frontendimage.BuildContext
# writes it at the epoch 0, the bake file's default SOURCE_DATE_EPOCH). ADD
# unpacks it with those; the times are content, so the cache key holds them.
FROM scratch AS frontend-prebuilt
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts"
ADD frontend.tar /
ENTRYPOINT ["/bin/frontend"]

FROM scratch AS frontend
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts"
ARG SOURCE_DATE_EPOCH=0
COPY --from=build --chmod=0755 /out-${SOURCE_DATE_EPOCH}/ /
ENTRYPOINT ["/bin/frontend"]
