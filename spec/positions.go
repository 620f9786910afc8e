package spec

import (
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// written is where one field path appeared in the file.
type written struct {
	key    Pos  // the mapping key; zero for sequence items and the document root
	value  Pos  // the value node
	scalar bool // the value is a scalar, so the value is what a problem is about
}

// fieldIndex maps field paths ("config.user", "paths[0].mode",
// "config.env.PATH") to where they were written. Paths use the YAML field
// names so that messages and callers speak the user's vocabulary.
type fieldIndex struct {
	fields map[string]written
}

func newFieldIndex() *fieldIndex { return &fieldIndex{fields: map[string]written{}} }

// record notes a path the first time it is seen; an alias decoded a second
// time keeps the first location.
func (x *fieldIndex) record(path string, key Pos, value *yaml.Node) {
	if _, ok := x.fields[path]; ok {
		return
	}
	x.fields[path] = written{key: key, value: nodePos(value), scalar: value.Kind == yaml.ScalarNode}
}

// has reports whether path was written in the file (even as null).
func (x *fieldIndex) has(path string) bool {
	if x == nil {
		return false
	}
	_, ok := x.fields[path]
	return ok
}

// pos is where to report a problem with path: the value when it is a scalar
// (the value is what is wrong), otherwise the key that introduces the list
// or mapping. Paths never written fall back to their nearest written parent,
// then to the start of the file.
func (x *fieldIndex) pos(path string) Pos {
	if x == nil {
		return startOfFile
	}
	for {
		if w, ok := x.fields[path]; ok {
			if !w.scalar && w.key.Line > 0 {
				return w.key
			}
			return w.value
		}
		parent, ok := parentPath(path)
		if !ok {
			return startOfFile
		}
		path = parent
	}
}

// keyPos is where the key of path was written, for problems with the key
// itself (an invalid env name, a duplicate). It falls back to pos.
func (x *fieldIndex) keyPos(path string) Pos {
	if x != nil {
		if w, ok := x.fields[path]; ok && w.key.Line > 0 {
			return w.key
		}
	}
	return x.pos(path)
}

// parentPath strips the last element of a field path: "a.b[2]" -> "a.b",
// "a.b" -> "a", "a" -> "" (the document), "" -> no parent. Mapping keys may
// themselves contain dots ("config.labels.org.example.team"); stripping one
// dot at a time still reaches the written parent.
func parentPath(path string) (string, bool) {
	if path == "" {
		return "", false
	}
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return "", true
	}
	return path[:i], true
}

// joinField and joinIndex build child paths.
func joinField(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func joinIndex(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func nodePos(n *yaml.Node) Pos {
	p := Pos{Line: n.Line, Column: n.Column}
	if p.Line < 1 || p.Column < 1 {
		return startOfFile
	}
	return p
}

// Pos returns where a field path was written, e.g. "packages[2]",
// "config.user", "paths[0].mode", "accounts.users[1].uid",
// "config.env.PATH". Unknown paths return the position of the nearest
// written parent, or Pos{1,1}.
func (s *Spec) Pos(path string) Pos { return s.index.pos(path) }

// Errorf builds an *Error located at a field path of this spec, for
// problems found after parsing (by the LLB builder or the frontend).
func (s *Spec) Errorf(path, hint, format string, args ...any) *Error {
	return Errorf(s.File, s.Pos(path), hint, format, args...)
}

// Field is one field of a list entry: its name in messages, as the file
// spells it ("copy[0].dst"), and where it was written. A field the file
// leaves out is at its entry. The decoder fills it from the yaml tags, so
// renaming a tag renames it too instead of losing its position.
type Field struct {
	Name string
	Pos  Pos
}

// PathAt is where a paths entry and each of its fields were written.
type PathAt struct{ Entry, Path, Type, Mode, UID, GID, Content, Target Field }

// CopyAt is where a copy entry and each of its fields were written.
type CopyAt struct{ Entry, From, Src, Dst, Mode, UID, GID Field }

// ArchiveAt is where an archives entry and each of its fields were written.
type ArchiveAt struct {
	Entry, Name, URL, SHA256, Dst, StripComponents, Version, License, Platform Field
}

var fieldType = reflect.TypeFor[Field]()

// locate fills the At field of a decoded list entry v at path, when its
// type has one: Entry is the entry, every other Field is the entry's field
// of the same Go name, named and located by its yaml tag.
func (x *fieldIndex) locate(v reflect.Value, path string) {
	at := v.FieldByName("At")
	if !at.IsValid() || at.Kind() != reflect.Struct {
		return
	}
	for i := range at.NumField() {
		f := at.Type().Field(i)
		if f.Type != fieldType {
			continue
		}
		name := path
		if f.Name != "Entry" {
			sf, ok := v.Type().FieldByName(f.Name)
			if !ok {
				continue // TestFieldPositions catches this
			}
			tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			name = joinField(path, tag)
		}
		at.Field(i).Set(reflect.ValueOf(Field{Name: name, Pos: x.pos(name)}))
	}
}

// locateEntries names the fields of the list entries that carry no
// positions (a Spec built or changed in code), so that their problems name
// the field; they are at the start of the file.
func (s *Spec) locateEntries() {
	for list, n := range map[string]int{"paths": len(s.Paths), "copy": len(s.Copy), "archives": len(s.Archives)} {
		for i := range n {
			var v reflect.Value
			switch list {
			case "paths":
				v = reflect.ValueOf(&s.Paths[i]).Elem()
			case "copy":
				v = reflect.ValueOf(&s.Copy[i]).Elem()
			default:
				v = reflect.ValueOf(&s.Archives[i]).Elem()
			}
			if v.FieldByName("At").FieldByName("Entry").Interface() == (Field{}) {
				s.index.locate(v, joinIndex(list, i))
			}
		}
	}
}

// ErrorAt builds an *Error located at a field of a list entry.
func (s *Spec) ErrorAt(f Field, hint, format string, args ...any) *Error {
	return Errorf(s.File, f.Pos, hint, format, args...)
}
