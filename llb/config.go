package llb

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"edp.buildth.ing/devfw-cicd/stagex/spec"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultPath is the PATH of an image whose spec sets none: the merged-/usr
// directories first, as StageX installs everything under /usr.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// HistoryComment marks the history entries this frontend writes.
const HistoryComment = "stagex-frontend"

// imageConfig writes the image config from the spec alone: no package's own
// config is inherited, so what the image runs as is what the spec says.
func imageConfig(in *Input, parts []Part, archives []spec.ResolvedArchive, generated bool) dockerspec.DockerOCIImage {
	s := in.Spec
	epoch := in.Epoch.UTC()
	img := dockerspec.DockerOCIImage{}
	img.Created = &epoch
	img.Platform = ocispecs.Platform{
		OS:           in.Platform.OS,
		Architecture: in.Platform.Architecture,
		Variant:      in.Platform.Variant,
	}
	img.RootFS.Type = "layers"

	c := &img.Config
	env := maps.Clone(s.Config.Env)
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = DefaultPath
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		c.Env = append(c.Env, k+"="+env[k])
	}
	c.User = s.Config.User
	c.WorkingDir = s.Config.Workdir
	c.Entrypoint = s.Config.Entrypoint
	c.Cmd = s.Config.Cmd
	c.StopSignal = s.Config.StopSignal
	if len(s.Config.Expose) > 0 {
		c.ExposedPorts = map[string]struct{}{}
		for _, p := range s.Config.Expose {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			c.ExposedPorts[p] = struct{}{}
		}
	}
	if len(s.Config.Volumes) > 0 {
		c.Volumes = map[string]struct{}{}
		for _, v := range s.Config.Volumes {
			c.Volumes[v] = struct{}{}
		}
	}
	c.Labels = ociLabels(in)
	for _, a := range archives {
		c.Labels[spec.ArchiveLabelPrefix+a.Name] = archiveOrigin(a)
	}
	for k, v := range s.Config.Labels {
		c.Labels[k] = v
	}

	for _, p := range parts {
		for _, id := range p.DiffIDs {
			img.History = append(img.History, ocispecs.History{
				Created:   &epoch,
				CreatedBy: historyLine(p, id),
				Comment:   HistoryComment,
			})
		}
	}
	for _, a := range archives {
		img.History = append(img.History, ocispecs.History{
			Created:   &epoch,
			CreatedBy: fmt.Sprintf("stagex: archive %s into %s", archiveOrigin(a), a.Dst),
			Comment:   HistoryComment,
		})
	}
	if generated {
		img.History = append(img.History, ocispecs.History{
			Created:   &epoch,
			CreatedBy: "stagex: generated layer (accounts, paths, copy)",
			Comment:   HistoryComment,
		})
	}
	return img
}

func historyLine(p Part, layer fmt.Stringer) string {
	what := p.Package.Name
	if p.Package.Version != "" {
		what += " " + p.Package.Version
	}
	// The canonical reference, not the one pulled: a mirror
	// (STAGEX_REGISTRY) must not change the image.
	return fmt.Sprintf("stagex: %s %s from %s (layer %s)", p.Mode, what, p.Package.Canonical, layer)
}

// archiveOrigin says what an archive is and where it came from, and that it
// is not from StageX: "temurin-jre 21.0.12+8 from <url> (sha256:<hex>, not
// from StageX)".
func archiveOrigin(a spec.ResolvedArchive) string {
	what := a.Name
	if a.Version != "" {
		what += " " + a.Version
	}
	return fmt.Sprintf("%s from %s (sha256:%s, %s)", what, a.URL, a.SHA256, spec.NotFromStageX)
}

// ociLabels returns the org.opencontainers.image labels that are known:
// every one of spec.ReservedLabels, from what it is written from.
func ociLabels(in *Input) map[string]string {
	all := map[string]string{
		ocispecs.AnnotationCreated:     in.Epoch.UTC().Format(time.RFC3339),
		ocispecs.AnnotationTitle:       in.Spec.Name,
		ocispecs.AnnotationDescription: in.Spec.Description,
		ocispecs.AnnotationVersion:     in.Meta.Version,
		ocispecs.AnnotationRevision:    in.Meta.Revision,
		ocispecs.AnnotationSource:      in.Meta.Source,
	}
	maps.DeleteFunc(all, func(_, v string) bool { return v == "" })
	return all
}
