package spec

import (
	"fmt"
	"regexp"
	"strconv"
)

// modePattern is the accepted spelling of a file mode: 3 or 4 octal digits,
// optionally after a leading 0 ("755", "0755", "0644").
var modePattern = regexp.MustCompile(`^0?[0-7]{3,4}$`)

// maxMode is the largest mode: the permission bits. BuildKit's file
// operations write mode&0777 only, so setuid, setgid and sticky bits would be
// dropped from the image; refusing them here makes the spec say what the
// image holds, and lets `--check` report them.
const maxMode = 0o777

// ParseMode reads an octal file mode string such as "0755".
func ParseMode(s string) (uint32, error) {
	if !modePattern.MatchString(s) {
		return 0, fmt.Errorf("invalid file mode %s: want 3 or 4 octal digits", quoteShort(s))
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > maxMode {
		return 0, fmt.Errorf("invalid file mode %s: setuid, setgid and sticky bits cannot be written (at most 0777)", quoteShort(s))
	}
	return uint32(m), nil
}

// padMode turns an unquoted integer spelling into the quoted one to suggest:
// 755 -> "0755".
func padMode(s string) string {
	if len(s) == 3 {
		return "0" + s
	}
	return s
}
