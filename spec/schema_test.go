package spec

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	invopop "github.com/invopop/jsonschema"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// schemaFile is the JSON schema of the spec, for editors (yaml-language-server
// and others): generated from the Go types, so it cannot drift from the
// decoder, which is driven by the same yaml tags.
const schemaFile = "../docs/spec.schema.json"

var updateSchema = flag.Bool("update-schema", false, "rewrite "+schemaFile)

// schemaRequired mirrors what validation insists on, per type: the schema
// reports it in the editor, validation stays the authority at build time.
var schemaRequired = map[string][]string{
	"Spec":    {"version", "packages"},
	"Group":   {"name"},
	"User":    {"name"},
	"Path":    {"path", "type"},
	"Copy":    {"src", "dst"},
	"Archive": {"url", "sha256", "dst"},
}

func generateSchema(t *testing.T) []byte {
	t.Helper()
	r := &invopop.Reflector{
		FieldNameTag:               "yaml",
		RequiredFromJSONSchemaTags: true, // nothing is required by default; schemaRequired says what is
		Mapper: func(ty reflect.Type) *invopop.Schema {
			switch ty {
			case reflect.TypeFor[PackageRef]():
				return &invopop.Schema{Type: "string", Description: "a short name from the lock (core-musl) or a full image reference pinned by digest"}
			case reflect.TypeFor[uint32](): // only the octal modes are uint32
				return &invopop.Schema{Type: "string", Pattern: `^0?[0-7]{1,3}$`, Description: "a file mode as a quoted octal string, at most \"0777\""}
			case reflect.TypeFor[PathType]():
				return &invopop.Schema{Type: "string", Enum: []any{string(PathDirectory), string(PathFile), string(PathSymlink)}}
			}
			return nil
		},
	}
	if err := r.AddGoComments("edp.buildth.ing/devfw-cicd/stagex/spec", "."); err != nil {
		t.Fatal(err)
	}
	s := r.Reflect(&Spec{})
	s.ID = "https://edp.buildth.ing/devfw-cicd/stagex/spec.schema.json"
	s.Title = "StageX frontend spec"
	for name, def := range s.Definitions {
		def.Required = schemaRequired[name]
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestSchemaCurrent: the checked-in schema is what the types give now.
func TestSchemaCurrent(t *testing.T) {
	got := generateSchema(t)
	if *updateSchema {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (go test ./spec -run TestSchemaCurrent -update-schema writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the spec types give; run go test ./spec -run TestSchemaCurrent -update-schema", schemaFile)
	}
}

// TestSchemaValidates: the schema accepts every spec in images/ and refuses
// an unknown field and a mode written as a number, as an editor would show.
func TestSchemaValidates(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(generateSchema(t)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("spec.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("spec.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(name string, y []byte) error {
		j, err := yaml.YAMLToJSON(y)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		return sch.Validate(v)
	}
	specs, _ := filepath.Glob("../images/*.yaml")
	specs = slices.DeleteFunc(specs, IsCompanionFile)
	if len(specs) == 0 {
		t.Fatal("no specs in images/")
	}
	for _, p := range specs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(p, b); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for name, bad := range map[string]string{
		"unknown field": "version: 1\npackages: [core-musl]\npackagez: []\n",
		"numeric mode":  "version: 1\npackages: [core-musl]\npaths: [{path: /x, type: file, mode: 420}]\n",
		"no packages":   "version: 1\n",
	} {
		if err := validate(name, []byte(bad)); err == nil {
			t.Errorf("%s: the schema accepts it", name)
		}
	}
}
