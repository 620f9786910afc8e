// Package pipeline is the release pipeline of the image set, one step at a
// time: build by digest with the bake file, check, sign, attest, verify N of
// M, scan, tag only what passed, write the digests table. Each step is a
// `stagex pipeline` subcommand (and a make target calling it); the steps
// share a state file that records, per image, the digest built and what
// every step made of it. A step runs on an image only when every step
// before it passed there, and Tag writes a tag only for an image every step
// passed; nothing is ever rebuilt after the build step.
package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// StateFile is the state's name in the pipeline folder.
const StateFile = "pipeline.json"

// Step names a pipeline step that an image must pass to be tagged.
type Step string

// The steps after the build, in the order they run.
const (
	StepCheck  Step = "check"
	StepSign   Step = "sign"
	StepAttest Step = "attest"
	StepVerify Step = "verify"
	StepScan   Step = "scan"
)

// Steps are the steps every image must pass before it is tagged, in order.
var Steps = []Step{StepCheck, StepSign, StepAttest, StepVerify, StepScan}

// Result is what one step made of one image.
type Result struct {
	Passed bool `json:"passed"`
	// NotRun: the step did not touch the image, an earlier step having
	// failed there.
	NotRun bool   `json:"not_run,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Image is one image the build pushed, by digest.
type Image struct {
	Target string `json:"target"`
	// Repo is the repository it was pushed to (no tag).
	Repo string `json:"repo"`
	// Digest is the pushed digest: the index with its attestations.
	Digest string `json:"digest"`
	// Tags are the tags the bake file gives it, written only by Tag.
	Tags []string `json:"tags"`
	// Spec is the image's spec file, relative to the bake file's folder
	// ("" for a Dockerfile target).
	Spec string `json:"spec,omitempty"`
	// Steps are the results by step.
	Steps map[Step]Result `json:"steps,omitempty"`
	// Tagged are the tags Tag wrote.
	Tagged []string `json:"tagged,omitempty"`
}

// Ref is the image's digest reference.
func (i *Image) Ref() (name.Digest, error) {
	return name.NewDigest(i.Repo + "@" + i.Digest)
}

// blocked says why step may not run on the image: the first earlier step
// (of Steps, up to step) that did not pass, or "" when all did.
func (i *Image) blocked(step Step) string {
	for _, s := range Steps {
		if s == step {
			return ""
		}
		r, ok := i.Steps[s]
		switch {
		case !ok:
			return fmt.Sprintf("not run: the %s step has not run", s)
		case !r.Passed:
			return fmt.Sprintf("not run: the %s step did not pass", s)
		}
	}
	return ""
}

// Passed reports whether every step passed on the image.
func (i *Image) Passed() bool {
	for _, s := range Steps {
		if !i.Steps[s].Passed {
			return false
		}
	}
	return true
}

// State is the pipeline's record, kept in <dir>/pipeline.json.
type State struct {
	dir    string
	Images []*Image `json:"images"`
}

// NewState is the state of a fresh build into dir.
func NewState(dir string, imgs []*Image) *State {
	sort.Slice(imgs, func(a, b int) bool { return imgs[a].Target < imgs[b].Target })
	return &State{dir: dir, Images: imgs}
}

// Load reads the state the build step wrote into dir.
func Load(dir string) (*State, error) {
	p := filepath.Join(dir, StateFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no pipeline state\nhint: the build step (stagex pipeline build, make pipeline-build) writes it", p)
	}
	if err != nil {
		return nil, err
	}
	s := &State{dir: dir}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(s.Images) == 0 {
		return nil, fmt.Errorf("%s: no images\nhint: run the build step again", p)
	}
	return s, nil
}

// Save writes the state (atomically: a step cut short leaves the last one).
func (s *State) Save() error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.dir, StateFile+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(s.dir, StateFile))
}

// StepError lists the images a step failed on.
type StepError struct {
	Step   Step
	Failed []string // "target: reason"
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s failed on %d image(s):\n  %s", e.Step, len(e.Failed), strings.Join(e.Failed, "\n  "))
}

// Run runs one step on every image, in target order, records each result
// and saves the state. An image an earlier step did not pass is not
// touched and fails this step too. The error lists every failed image.
func (s *State) Run(step Step, fn func(*Image) (detail string, err error)) error {
	var failed []string
	for _, img := range s.Images {
		if img.Steps == nil {
			img.Steps = map[Step]Result{}
		}
		var r Result
		if why := img.blocked(step); why != "" {
			r = Result{NotRun: true, Detail: why}
		} else if detail, err := fn(img); err != nil {
			r = Result{Detail: err.Error()}
		} else {
			r = Result{Passed: true, Detail: detail}
		}
		img.Steps[step] = r
		if !r.Passed {
			failed = append(failed, img.Target+": "+r.Detail)
		}
	}
	if err := s.Save(); err != nil {
		return err
	}
	if len(failed) > 0 {
		return &StepError{Step: step, Failed: failed}
	}
	return nil
}
