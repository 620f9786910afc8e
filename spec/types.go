package spec

// Defaults applied by ParseSpec, so that consumers of a parsed Spec read
// effective values instead of re-deriving them.
const (
	// DefaultBase is the first layer when a spec names no base: the StageX
	// package holding the filesystem skeleton (/etc, /tmp, /home, ...).
	DefaultBase = "core-filesystem"
	// Scratch as the base means no base layer at all.
	Scratch = "scratch"
	// DefaultLockFile is the lock read beside the spec when it names none.
	DefaultLockFile = "stagex.lock.yaml"
	// DefaultCopyFrom is the build context a copy reads from.
	DefaultCopyFrom = "context"
	// DefaultHome is a user's home when none is written. "/" rather than
	// "/home/<name>" because nothing creates that directory implicitly; a
	// spec that wants one lists it under paths and sets home to it.
	DefaultHome = "/"
	// DefaultShell is a user's login shell when none is written: service
	// accounts in an image have no reason to log in.
	DefaultShell = "/sbin/nologin"
)

// Spec is one composition: a base and an ordered list of StageX packages
// layered on it, and the image config, accounts and files added on top.
type Spec struct {
	Version     int               `yaml:"version"`
	Name        string            `yaml:"name"`                    // used in labels and the SBOM
	Description string            `yaml:"description" spec:"text"` // free text
	Lock        string            `yaml:"lock"`                    // relative to the spec; DefaultLockFile when unset
	Base        string            `yaml:"base"`                    // DefaultBase when unset; Scratch for none
	Packages    []PackageRef      `yaml:"packages"`                // layered in this order
	Config      Config            `yaml:"config"`
	Annotations map[string]string `yaml:"annotations" spec:"text"` // OCI manifest annotations
	Accounts    Accounts          `yaml:"accounts"`
	Paths       []Path            `yaml:"paths"`
	Copy        []Copy            `yaml:"copy"`
	Archives    []Archive         `yaml:"archives"` // content from outside StageX, each in a layer of its own
	Check       Check             `yaml:"check"`    // accepted check findings and smoke tests

	// File is the file name given to ParseSpec, for errors and source maps.
	File string `yaml:"-"`

	// index records where each field was written; nil for a Spec built in
	// code, whose errors then point at the start of the file.
	index *fieldIndex
}

// PackageRef is one entry of packages as written: a short name resolved
// through the lock ("core-musl") or a full image reference
// ("<registry>/stagex/core-go:1.26.0@sha256:...").
type PackageRef struct {
	Ref string
	Pos Pos
}

// Config is the OCI image config, the spec's alone: no package's config is
// inherited. A list written empty ([]) decodes non-nil and an absent one nil,
// but both leave the field out of the image.
type Config struct {
	Env        map[string]string `yaml:"env"`
	User       string            `yaml:"user"` // "name", "uid", "name:group" or "uid:gid"
	Workdir    string            `yaml:"workdir"`
	Entrypoint []string          `yaml:"entrypoint"`
	Cmd        []string          `yaml:"cmd"`
	Labels     map[string]string `yaml:"labels" spec:"text"`
	Expose     []string          `yaml:"expose"`  // "port[/tcp|/udp|/sctp]"
	Volumes    []string          `yaml:"volumes"` // absolute paths
	StopSignal string            `yaml:"stop-signal"`
}

// Accounts are groups and users added to the base's /etc/group and
// /etc/passwd.
type Accounts struct {
	Groups []Group `yaml:"groups"`
	Users  []User  `yaml:"users"`
}

// Group is one /etc/group entry.
type Group struct {
	Name    string   `yaml:"name"`
	GID     int      `yaml:"gid"`
	Members []string `yaml:"members"`
}

// User is one /etc/passwd entry. Its GID may name a group from
// Accounts.Groups or one the base already has; the latter is only known at
// build time, so parsing does not insist on it.
type User struct {
	Name  string `yaml:"name"`
	UID   int    `yaml:"uid"`
	GID   int    `yaml:"gid"`
	Home  string `yaml:"home"`  // DefaultHome ("/") when unset
	Shell string `yaml:"shell"` // DefaultShell ("/sbin/nologin") when unset
	Gecos string `yaml:"gecos"`
}

// PathType is what a Path creates.
type PathType string

// The kinds of filesystem entry a Path can create.
const (
	PathDirectory PathType = "directory"
	PathFile      PathType = "file"
	PathSymlink   PathType = "symlink"
)

// Path is a directory, file or symlink created in the image after the
// packages are layered.
type Path struct {
	Path    string   `yaml:"path"`
	Type    PathType `yaml:"type"`
	Mode    *uint32  `yaml:"mode" spec:"octal"` // written as an octal string "0750"; nil = default (dir 0755, file 0644)
	UID     int      `yaml:"uid"`
	GID     int      `yaml:"gid"`
	Content string   `yaml:"content" spec:"bytes"` // file only
	Target  string   `yaml:"target"`               // symlink only, required there

	At PathAt `yaml:"-"` // where it was written
}

// Copy copies files from a build context into the image.
type Copy struct {
	From string  `yaml:"from"`              // DefaultCopyFrom ("context") or the name of a named build context
	Src  string  `yaml:"src"`               // relative path inside that context, no ".." element
	Dst  string  `yaml:"dst"`               // absolute, clean path in the image
	Mode *uint32 `yaml:"mode" spec:"octal"` // octal string; nil = keep the source's mode
	UID  int     `yaml:"uid"`
	GID  int     `yaml:"gid"`

	At CopyAt `yaml:"-"` // where it was written
}
