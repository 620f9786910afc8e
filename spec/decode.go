package spec

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxDecodedNodes bounds how many nodes one document may expand to. Real
// specs and locks have a few thousand; the bound exists because YAML
// aliases let a small file expand exponentially.
const maxDecodedNodes = 200_000

// decoder walks a yaml.Node tree into the spec and lock types strictly:
// every key must name a field, every value must have the field's type, and
// every problem is collected (not just the first) at the line and column of
// the node at fault. It is driven by the yaml struct tags so the types stay
// the single description of the file format. A field tagged `spec:"octal"`
// is a file mode written as an octal string.
type decoder struct {
	file  string
	what  string // "spec" or "lock", to name the document in messages
	index *fieldIndex
	errs  ErrorList
	// failed holds the paths whose value could not be decoded, so that
	// validation does not pile a second, confusing error on top (a
	// "version: abc" is a type error, not also a missing version).
	failed map[string]bool
	// expanding holds the alias nodes being decoded, to refuse cycles.
	expanding map[*yaml.Node]bool
	aliasAt   Pos // where the outermost alias being expanded is used
	budget    int
}

func newDecoder(file, what string) *decoder {
	return &decoder{
		file:      file,
		what:      what,
		index:     newFieldIndex(),
		failed:    map[string]bool{},
		expanding: map[*yaml.Node]bool{},
		budget:    maxDecodedNodes,
	}
}

// exhausted reports whether decoding stopped at maxDecodedNodes.
func (d *decoder) exhausted() bool { return d.budget < 0 }

func (d *decoder) errorf(pos Pos, hint, format string, args ...any) {
	d.errs = append(d.errs, Errorf(d.file, pos, hint, format, args...))
}

// typeError reports a value of the wrong shape and marks its path failed.
func (d *decoder) typeError(n *yaml.Node, at Pos, path, want, hint string) {
	d.failed[path] = true
	d.errorf(at, hint, "%s: expected %s, got %s", d.label(path), want, describeNode(n))
}

// label names a path in messages; the root is the document itself.
func (d *decoder) label(path string) string {
	if path == "" {
		return "the " + d.what
	}
	return path
}

var packageRefType = reflect.TypeFor[PackageRef]()

// decode stores node n into v. path is v's field path, key the position of
// the mapping key that introduced it (zero for list items and the root),
// and octal whether v is a file mode.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, key Pos, octal bool) {
	at := nodePos(n)
	d.budget--
	if d.budget < 0 {
		if d.budget == -1 {
			d.failed[path] = true
			if len(d.expanding) > 0 {
				at = d.aliasAt // blame the alias, not the anchored values
			}
			d.errorf(at, "write the values out instead of nesting aliases",
				"the %s expands to more than %d values (too many YAML aliases?)", d.what, maxDecodedNodes)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil || d.expanding[n] {
			d.failed[path] = true
			d.errorf(at, "an alias cannot refer to the node that contains it", "%s: alias *%s refers to itself", d.label(path), n.Value)
			return
		}
		if len(d.expanding) == 0 {
			d.aliasAt = at
		}
		d.expanding[n] = true
		defer delete(d.expanding, n)
		// The aliased value is located where the alias is used, which is
		// where this field was written; what it contains keeps the
		// positions of the anchored original.
		target := *n.Alias
		target.Line, target.Column = n.Line, n.Column
		n = &target
	}
	d.index.record(path, key, n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		v.SetZero() // null means unset
		return
	}
	switch {
	case octal:
		d.decodeMode(n, at, v, path)
	case v.Type() == packageRefType:
		if s, ok := d.scalarText(n, at, path, "a package name or image reference (a string)"); ok {
			v.Set(reflect.ValueOf(PackageRef{Ref: s, Pos: at}))
		}
	default:
		switch v.Kind() {
		case reflect.String:
			if s, ok := d.scalarText(n, at, path, "a string"); ok {
				v.SetString(s)
			}
		case reflect.Int:
			d.decodeInt(n, at, v, path)
		case reflect.Slice:
			d.decodeSlice(n, at, v, path)
		case reflect.Map:
			d.decodeMap(n, at, v, path)
		case reflect.Struct:
			d.decodeStruct(n, at, v, path)
		default:
			panic("spec: no YAML decoding for " + v.Type().String())
		}
	}
}

// scalarText accepts any plain scalar as a string, using the text exactly
// as written: "version: 1.10" stays "1.10" instead of becoming the float
// 1.1, and "DEBUG: true" is the string "true".
func (d *decoder) scalarText(n *yaml.Node, at Pos, path, want string) (string, bool) {
	if n.Kind == yaml.ScalarNode {
		switch n.Tag {
		case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
			return n.Value, true
		}
	}
	d.typeError(n, at, path, want, hintForString(n))
	return "", false
}

func hintForString(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "write a single value here, not a list"
	case yaml.MappingNode:
		return "write a single value here, not \"key: value\" pairs; quote it if it contains \": \""
	}
	return "write a plain or quoted string, without a YAML tag"
}

func (d *decoder) decodeInt(n *yaml.Node, at Pos, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		hint := "write a whole number without quotes, e.g. 65532"
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			if _, err := strconv.Atoi(n.Value); err == nil {
				hint = "remove the quotes: " + lastElement(path) + ": " + n.Value
			}
		}
		d.typeError(n, at, path, "an integer", hint)
		return
	}
	var i int64
	if err := n.Decode(&i); err != nil || int64(int(i)) != i {
		d.failed[path] = true
		d.errorf(at, "write a whole number that fits in 64 bits", "%s: invalid integer %s", d.label(path), quoteShort(n.Value))
		return
	}
	v.SetInt(i)
}

func (d *decoder) decodeSlice(n *yaml.Node, at Pos, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		want, hint := "a list", "write one \"- item\" per line, or [a, b]"
		if v.Type().Elem().Kind() == reflect.String {
			want = "a list of strings"
		}
		if n.Kind == yaml.ScalarNode {
			hint = "write it as a list: [" + n.Value + "]"
			if len(n.Value) > 40 || n.Value == "" {
				hint = "write it as a list: [value]"
			}
		}
		d.typeError(n, at, path, want, hint)
		return
	}
	// A written empty list stays non-nil, so the Spec says what was written.
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), joinIndex(path, i), Pos{}, false)
	}
	v.Set(s)
}

// mappingPairs checks what is common to every mapping (keys are plain
// strings, no merge keys, no key twice) and calls fn for each valid pair in
// order. Duplicates are reported where they are repeated.
func (d *decoder) mappingPairs(n *yaml.Node, path string, fn func(name string, key, value *yaml.Node)) {
	seen := map[string]Pos{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := n.Content[i], n.Content[i+1]
		if key.Kind == yaml.AliasNode && key.Alias != nil {
			key = key.Alias
		}
		keyAt := nodePos(n.Content[i])
		switch {
		case key.Kind == yaml.ScalarNode && key.Tag == "!!merge":
			d.failed[path] = true
			d.errorf(keyAt, "write the fields out instead of merging them with <<",
				"%s: YAML merge keys (<<) are not supported", d.label(path))
			continue
		case key.Kind != yaml.ScalarNode || key.Tag == "!!null" || key.Tag == "!!binary":
			d.failed[path] = true
			d.errorf(keyAt, "write keys as plain names", "%s: a key must be a string, got %s", d.label(path), describeNode(key))
			continue
		}
		if first, dup := seen[key.Value]; dup {
			d.errorf(keyAt, "remove one of them", "%s: duplicate key %q (first written at line %d)",
				d.label(path), key.Value, first.Line)
			continue
		}
		seen[key.Value] = keyAt
		fn(key.Value, n.Content[i], value)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, at Pos, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		want := "a mapping"
		if v.Type().Elem().Kind() == reflect.String {
			want = "a mapping of names to strings"
		}
		d.typeError(n, at, path, want, "write \"name: value\" pairs, one per line, indented under "+d.label(path))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	d.mappingPairs(n, path, func(name string, key, value *yaml.Node) {
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(value, elem, joinField(path, name), nodePos(key), false)
		m.SetMapIndex(reflect.ValueOf(name).Convert(v.Type().Key()), elem)
	})
	v.Set(m)
}

func (d *decoder) decodeStruct(n *yaml.Node, at Pos, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.typeError(n, at, path, "a mapping", "write \"field: value\" pairs, one per line")
		return
	}
	fields := structFields(v.Type())
	d.mappingPairs(n, path, func(name string, key, value *yaml.Node) {
		f, ok := fields[name]
		if !ok {
			d.errorf(nodePos(key), unknownFieldHint(name, fields), "unknown field %q in %s", name, d.label(path))
			return
		}
		d.decode(value, v.Field(f.index), joinField(path, name), nodePos(key), f.octal)
	})
	d.index.locate(v, path)
}

func unknownFieldHint(name string, fields map[string]structField) string {
	names := sortedKeys(fields)
	if s := suggest(name, names); len(s) > 0 {
		return "did you mean " + quoteList(s) + "?"
	}
	return "valid fields: " + strings.Join(names, ", ")
}

// decodeMode reads a file mode. Only quoted octal strings are accepted: an
// unquoted 0755 is an integer whose value depends on the YAML version the
// reader implements (493 in YAML 1.1, 755 in YAML 1.2), so it is refused
// instead of guessed.
func (d *decoder) decodeMode(n *yaml.Node, at Pos, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		d.failed[path] = true
		hint := "quote an octal string, e.g. " + lastElement(path) + ": \"0755\""
		if modePattern.MatchString(n.Value) {
			hint = "quote it: " + lastElement(path) + ": \"" + padMode(n.Value) + "\""
		}
		d.errorf(at, hint, "%s: file mode %s must be a quoted octal string", d.label(path), n.Value)
		return
	}
	s, ok := d.scalarText(n, at, path, "an octal string such as \"0755\"")
	if !ok {
		return
	}
	mode, err := ParseMode(s)
	if err != nil {
		d.failed[path] = true
		d.errorf(at, "write 3 or 4 octal digits, e.g. \"0755\" or \"0644\"", "%s: %v", d.label(path), err)
		return
	}
	v.Set(reflect.ValueOf(&mode))
}

// structField is one decodable field of a struct type.
type structField struct {
	index int
	octal bool
}

// structFields lists a struct's fields by YAML name; fields without a yaml
// tag (File, the position index) are not part of the file format.
func structFields(t reflect.Type) map[string]structField {
	fields := map[string]structField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields[name] = structField{index: i, octal: f.Tag.Get("spec") == "octal"}
	}
	return fields
}

// describeNode says what a node is, for "expected X, got Y" messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.Tag {
	case "!!str":
		return "the string " + quoteShort(n.Value)
	case "!!int":
		return "the integer " + n.Value
	case "!!float":
		return "the number " + n.Value
	case "!!bool":
		return "the boolean " + n.Value
	case "!!null":
		return "null"
	}
	return fmt.Sprintf("a %s value", n.Tag)
}

// quoteShort quotes a value for a message, shortened so one bad value
// cannot flood the output.
func quoteShort(s string) string {
	const limit = 40
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit]) + "..."
	}
	return strconv.Quote(s)
}

// lastElement is the field name at the end of a path, for hints that show
// the corrected line: "paths[0].mode" -> "mode".
func lastElement(path string) string {
	if i := strings.LastIndexAny(path, ".]"); i >= 0 {
		return path[i+1:]
	}
	return path
}
