package spec

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// What a string field may hold, from its `spec` tag. Everything a spec or a
// lock writes ends up in a line-based file (/etc/passwd), in JSON a runtime
// reads (the image config) or in a terminal; a NUL or a CR there cuts or
// hides what follows, so no field accepts control characters unless its
// tag says so.
const (
	// textLine (no tag) is printable text on one line.
	textLine = ""
	// textBlock (`spec:"text"`) also holds line feeds and tabs: a
	// description, a label or annotation value.
	textBlock = "text"
	// textBytes (`spec:"bytes"`) holds anything: a file's content.
	textBytes = "bytes"
)

// badRune returns the first character s may not hold as kind, and whether
// there is one. Invalid UTF-8 is reported as utf8.RuneError.
func badRune(s, kind string) (rune, bool) {
	if kind == textBytes {
		return 0, false
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return r, true
			}
		}
		if kind == textBlock && (r == '\n' || r == '\t') {
			continue
		}
		// Cc is C0, DEL and C1 (NEL, U+0085, among them); Zl and Zp are
		// U+2028 and U+2029, which YAML 1.1 and JavaScript read as line
		// breaks; U+FEFF is the invisible byte-order mark.
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) || r == '\uFEFF' {
			return r, true
		}
	}
	return 0, false
}

// describeRune names a refused character for messages.
func describeRune(r rune) string {
	if r == utf8.RuneError {
		return "invalid UTF-8"
	}
	return fmt.Sprintf("the character %U", r)
}

func textHint(kind string) string {
	if kind == textBlock {
		return "remove it: only printable text, tabs and line breaks are accepted here"
	}
	return "remove it: only printable text on one line is accepted here (no escapes such as \\0, \\r or \\n)"
}

// text checks every string of v, a decoded spec or lock value at path, and
// every map key, against what its field's `spec` tag allows. It walks the
// types by their yaml tags, as the decoder does, so no field can be left out.
func (v *validator) text(path string, val reflect.Value, kind string) {
	switch val.Kind() {
	case reflect.String:
		if r, bad := badRune(val.String(), kind); bad {
			v.errorf(path, textHint(kind), "%s holds %s", path, describeRune(r))
		}
	case reflect.Pointer:
		if !val.IsNil() {
			v.text(path, val.Elem(), kind)
		}
	case reflect.Slice:
		for i := range val.Len() {
			v.text(joinIndex(path, i), val.Index(i), kind)
		}
	case reflect.Map:
		names := make([]string, 0, val.Len())
		for _, k := range val.MapKeys() {
			names = append(names, k.String())
		}
		slices.Sort(names)
		for _, name := range names {
			at := joinField(path, name)
			if r, bad := badRune(name, textLine); bad {
				v.keyErrorf(at, textHint(textLine), "%s: the key %s holds %s", path, quoteShort(name), describeRune(r))
			}
			v.text(at, val.MapIndex(reflect.ValueOf(name).Convert(val.Type().Key())), kind)
		}
	case reflect.Struct:
		if val.Type() == packageRefType {
			v.text(path, val.FieldByName("Ref"), kind)
			return
		}
		t := val.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			v.text(joinField(path, name), val.Field(i), f.Tag.Get("spec"))
		}
	}
}
