// Package llb turns a validated spec, its resolved packages and one target
// platform into a BuildKit LLB state and an OCI image config.
//
// It is pure and deterministic: everything it needs from the outside world
// (the image configs of the pinned packages, the base's /etc/passwd, the
// build contexts) is passed in by the caller, so the same Input always
// marshals to the same definition bytes. The frontend package does the I/O.
//
// The composition is the one measured to keep upstream layers intact:
//
//	Merge(base, Diff(base, pkg1), Diff(base, pkg2), …, archive1, …, generated)
//
// Each Diff of a package built FROM the base yields exactly the package's own
// layer blobs, so the exported image is the upstream blobs byte for byte, each
// once, plus one layer per archive from outside StageX (fetched by URL with
// its sha256) and at most one generated layer. A package whose layer chain
// does not start with the base's is merged as it is.
package llb
