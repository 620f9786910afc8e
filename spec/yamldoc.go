package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// readDocument parses data as exactly one YAML document and returns its
// root node. The "# syntax=" line a spec starts with is an ordinary YAML
// comment, so positions stay those of the file as written.
func readDocument(file, what string, data []byte) (*yaml.Node, ErrorList) {
	if e := checkText(file, data); e != nil {
		return nil, ErrorList{e}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	first, err := decodeNode(dec)
	switch {
	case errors.Is(err, io.EOF):
		return nil, ErrorList{Errorf(file, startOfFile, "start with \"version: 1\"", "empty %s: the file holds no YAML document", what)}
	case err != nil:
		return nil, ErrorList{yamlSyntaxError(file, data, err)}
	}
	second, err := decodeNode(dec)
	switch {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, ErrorList{yamlSyntaxError(file, data, err)}
	default:
		return nil, ErrorList{Errorf(file, nodePos(second), "remove this \"---\" and what follows; a "+what+" is one document",
			"more than one YAML document in the %s", what)}
	}
	root := first
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, ErrorList{Errorf(file, nodePos(root), "start with \"version: 1\"", "empty %s: the document has no fields", what)}
	}
	return root, nil
}

// decodeNode reads the next document. The YAML library reports syntax
// errors by panicking internally and recovering; should a malformed input
// ever escape that, it is still the input's fault, so it becomes an error
// instead of taking the frontend down.
func decodeNode(dec *yaml.Decoder) (n *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = nil, fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	n = new(yaml.Node)
	return n, dec.Decode(n)
}

// yamlLine matches the location prefix of the YAML library's syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the messages of the YAML parser stage (as opposed to
// its scanner). The library prints their line 0-based and leaves it out
// when it is 0, where scanner errors print a 1-based line.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// yamlSyntaxError turns a YAML syntax error into an *Error. The library
// reports a line but no column; the column is that of the first character
// on the line, which is where the offending construct starts in the common
// cases (a bad key, a stray tab, an unclosed bracket's line).
func yamlSyntaxError(file string, data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil && n >= 0 {
			line = n
		}
		msg = m[2]
	}
	if parserProblems[msg] || line == 0 {
		line++
	}
	return Errorf(file, Pos{Line: line, Column: firstColumn(data, line)},
		"check indentation (spaces, not tabs), quoting and brackets on this line or the one before",
		"invalid YAML: %s", msg)
}

// firstColumn is the 1-based column of the first character of a line that
// is not a space (a tab counts: a tab in indentation is itself the usual
// error), or 1 when the line is blank or past the end.
func firstColumn(data []byte, line int) int {
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return 1
		}
		data = data[i+1:]
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	}
	col := 1
	for _, r := range string(data) {
		if r != ' ' {
			return col
		}
		col++
	}
	return 1
}

// checkText rejects bytes YAML cannot hold before the parser sees them,
// because the parser reports them without a location and the exact spot is
// easy to compute here.
func checkText(file string, data []byte) *Error {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return Errorf(file, Pos{line, col}, "save the file as UTF-8", "invalid UTF-8 byte 0x%02x", data[i])
		case r == '\n':
			line, col = line+1, 0
		case r == '\t' || r == '\r':
		case r == '\uFEFF' && i == 0:
			// A byte order mark is allowed at the start.
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0 && r != 0x85) || r == '\uFFFE' || r == '\uFFFF' || r == '\uFEFF':
			return Errorf(file, Pos{line, col}, "remove it, or write it as an escape inside a double-quoted string",
				"control character %U is not allowed in YAML", r)
		}
		i += size
		col++
	}
	return nil
}
