package rebuild

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Difference is one way a rebuilt image differs from the published one.
type Difference struct {
	// What names the place: "config history[3].created_by",
	// "layer 2 (history: …)", "manifest annotations".
	What               string
	Published, Rebuilt string
}

func (d Difference) String() string {
	return fmt.Sprintf("%s:\n    published: %s\n    rebuilt:   %s", d.What, d.Published, d.Rebuilt)
}

// Compare lists how two platform images differ: the config field by field
// (JSON paths), the layers by index, then the rest of the manifest. Equal
// manifests give none.
func Compare(published, rebuilt v1.Image) ([]Difference, error) {
	pm, err := published.RawManifest()
	if err != nil {
		return nil, err
	}
	rm, err := rebuilt.RawManifest()
	if err != nil {
		return nil, err
	}
	if string(pm) == string(rm) {
		return nil, nil
	}
	var out []Difference
	pc, err := published.RawConfigFile()
	if err != nil {
		return nil, err
	}
	rc, err := rebuilt.RawConfigFile()
	if err != nil {
		return nil, err
	}
	var pv, rv any
	if err := json.Unmarshal(pc, &pv); err != nil {
		return nil, fmt.Errorf("published config: %w", err)
	}
	if err := json.Unmarshal(rc, &rv); err != nil {
		return nil, fmt.Errorf("rebuilt config: %w", err)
	}
	diffJSON("config", pv, rv, &out)
	if len(out) == 0 && string(pc) != string(rc) {
		out = append(out, Difference{What: "config bytes (same fields, other encoding)", Published: string(pc), Rebuilt: string(rc)})
	}

	pmf, err := published.Manifest()
	if err != nil {
		return nil, err
	}
	rmf, err := rebuilt.Manifest()
	if err != nil {
		return nil, err
	}
	history := layerHistory(published)
	for i := range max(len(pmf.Layers), len(rmf.Layers)) {
		what := "layer " + strconv.Itoa(i)
		if h, ok := history[i]; ok {
			what += " (" + h + ")"
		}
		switch {
		case i >= len(rmf.Layers):
			out = append(out, Difference{What: what, Published: pmf.Layers[i].Digest.String(), Rebuilt: "(none)"})
		case i >= len(pmf.Layers):
			out = append(out, Difference{What: what, Published: "(none)", Rebuilt: rmf.Layers[i].Digest.String()})
		case pmf.Layers[i].Digest != rmf.Layers[i].Digest || pmf.Layers[i].MediaType != rmf.Layers[i].MediaType:
			out = append(out, Difference{What: what,
				Published: fmt.Sprintf("%s (%s)", pmf.Layers[i].Digest, pmf.Layers[i].MediaType),
				Rebuilt:   fmt.Sprintf("%s (%s)", rmf.Layers[i].Digest, rmf.Layers[i].MediaType)})
		}
	}
	if pmf.MediaType != rmf.MediaType {
		out = append(out, Difference{What: "manifest mediaType", Published: string(pmf.MediaType), Rebuilt: string(rmf.MediaType)})
	}
	if !maps.Equal(pmf.Annotations, rmf.Annotations) {
		out = append(out, Difference{What: "manifest annotations", Published: fmt.Sprint(pmf.Annotations), Rebuilt: fmt.Sprint(rmf.Annotations)})
	}
	if len(out) == 0 {
		out = append(out, Difference{What: "manifest bytes (same config and layers, other encoding)", Published: string(pm), Rebuilt: string(rm)})
	}
	return out, nil
}

// layerHistory maps layer indexes to the created_by of their history
// entries (those that are not empty layers), which name the package.
func layerHistory(img v1.Image) map[int]string {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil
	}
	out := map[int]string{}
	i := 0
	for _, h := range cf.History {
		if h.EmptyLayer {
			continue
		}
		out[i] = h.CreatedBy
		i++
	}
	return out
}

// diffJSON appends the differences between two decoded JSON values, each
// at its path (config.config.Labels["k"], config.history[2].created_by).
func diffJSON(path string, a, b any, out *[]Difference) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := slices.Sorted(maps.Keys(av))
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range slices.Compact(keys) {
			diffJSON(childPath(path, k), av[k], bv[k], out)
		}
		return
	case []any:
		bv, ok := b.([]any)
		if !ok {
			break
		}
		for i := range max(len(av), len(bv)) {
			var x, y any
			if i < len(av) {
				x = av[i]
			}
			if i < len(bv) {
				y = bv[i]
			}
			diffJSON(fmt.Sprintf("%s[%d]", path, i), x, y, out)
		}
		return
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		*out = append(*out, Difference{What: path, Published: show(a, ja), Rebuilt: show(b, jb)})
	}
}

func show(v any, j []byte) string {
	if v == nil {
		return "(none)"
	}
	return string(j)
}

// childPath writes a key as a field (.key) or, when it is not a plain
// word, as ["key"] (labels, env-like maps).
func childPath(path, key string) string {
	for _, r := range key {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return path + "[" + strconv.Quote(key) + "]"
		}
	}
	return path + "." + key
}
