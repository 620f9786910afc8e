package spec

import (
	"regexp"
	"strconv"
	"strings"
)

// envNamePattern is a POSIX shell variable name: other names cannot be read
// by the programs an image runs.
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// exposePattern is a port with an optional protocol, as the OCI image
// config spells ExposedPorts keys.
var exposePattern = regexp.MustCompile(`^([0-9]{1,5})(/(tcp|udp|sctp))?$`)

func (s *Spec) validateConfig(v *validator) {
	c := s.Config
	for _, name := range sortedKeys(c.Env) {
		if !envNamePattern.MatchString(name) {
			v.keyErrorf("config.env."+name, "env names are letters, digits and '_', and do not start with a digit",
				"invalid env name %s", quoteShort(name))
		}
	}
	if c.User != "" {
		if _, _, ok := splitUser(c.User); !ok {
			v.errorf("config.user", "write name, uid, name:group or uid:gid, e.g. user: \"1000:1000\"",
				"invalid user %s", quoteShort(c.User))
		}
	}
	if c.Workdir != "" {
		if msg, hint := checkImagePath(c.Workdir, true); msg != "" {
			v.errorf("config.workdir", hint, "workdir: %s", msg)
		}
	}
	validateKeys(v, "config.labels", c.Labels)
	validateReservedLabels(v, c.Labels)
	for i, e := range c.Expose {
		if !validExpose(e) {
			v.errorf(joinIndex("config.expose", i), "write port[/tcp|/udp|/sctp] with a port from 1 to 65535, e.g. \"8080/tcp\"",
				"invalid exposed port %s", quoteShort(e))
		}
	}
	for i, vol := range c.Volumes {
		if msg, hint := checkImagePath(vol, false); msg != "" {
			v.errorf(joinIndex("config.volumes", i), hint, "volume: %s", msg)
		}
	}
	if c.StopSignal != "" && !validSignal(c.StopSignal) {
		hint := "use a signal name such as SIGTERM, or a number from 1 to 64"
		if s := suggest(strings.ToUpper(c.StopSignal), signalNames()); len(s) > 0 {
			hint = "did you mean " + quoteList(s) + "?"
		}
		v.errorf("config.stop-signal", hint, "unknown stop signal %s", quoteShort(c.StopSignal))
	}
}

func validExpose(s string) bool {
	m := exposePattern.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	port, err := strconv.Atoi(m[1])
	return err == nil && port >= 1 && port <= 65535
}

// splitUser splits config.user into its user and optional group part.
func splitUser(s string) (user, group string, ok bool) {
	user, group, hasGroup := strings.Cut(s, ":")
	if !validUserPart(user) || (hasGroup && !validUserPart(group)) {
		return "", "", false
	}
	return user, group, true
}

// validUserPart accepts a numeric id or a name as /etc/passwd holds it.
// Names are checked loosely here because the base may define names this
// spec does not; CheckUser checks that they exist.
func validUserPart(s string) bool {
	if s == "" {
		return false
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return n <= maxID
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

func isNumericID(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// ArchiveLabelPrefix starts the label that names each archive's origin in
// the image config (ing.buildth.edp is edp.buildth.ing reversed, as label
// keys are written): the content is not from StageX, and whoever inspects
// the image should see that without reading its history.
const ArchiveLabelPrefix = "ing.buildth.edp.stagex.archive."

// ReservedLabels are the labels the frontend writes itself, each with what
// it is written from. The spec's labels are applied last, so one of these
// in the spec would replace what the image says about itself (its creation
// time, its revision): validation refuses them.
var ReservedLabels = map[string]string{
	"org.opencontainers.image.created":     "the epoch (SOURCE_DATE_EPOCH)",
	"org.opencontainers.image.title":       "the spec's name",
	"org.opencontainers.image.description": "the spec's description",
	"org.opencontainers.image.version":     "the VERSION build argument",
	"org.opencontainers.image.revision":    "the build's VCS revision",
	"org.opencontainers.image.source":      "the build's VCS source",
}

// validateReservedLabels refuses spec labels the frontend writes: the
// ReservedLabels, and those under ArchiveLabelPrefix, which name an
// archive's origin.
func validateReservedLabels(v *validator, labels map[string]string) {
	for _, k := range sortedKeys(labels) {
		at := joinField("config.labels", k)
		if strings.HasPrefix(k, ArchiveLabelPrefix) {
			v.errorf(at, "remove it; the frontend writes these labels for the spec's archives",
				"label %s is reserved: it names an archive's origin", k)
		}
		if from, ok := ReservedLabels[k]; ok {
			v.errorf(at, "remove it; the frontend writes it from "+from, "label %s is reserved: the frontend sets it", k)
		}
	}
}
