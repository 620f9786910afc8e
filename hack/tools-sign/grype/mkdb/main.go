// Command grype-mkdb builds a Grype vulnerability database offline from a
// few advisory records, with Grype's own database-building code: the records
// are written into a vunnel provider workspace by Grype's WorkspaceWriter and
// turned into a schema v6 database by grype/db.Build, the code path the
// published database is built by. Nothing is downloaded.
//
//	grype-mkdb -in <records> -out <db root>
//
// <records> holds one folder per provider (nvd, github, …), each with vunnel
// result envelopes (*.json: schema, identifier, item). The database is
// written to <db root>/6/vulnerability.db with its import.json, the layout
// Grype reads from GRYPE_DB_CACHE_DIR=<db root> (with GRYPE_DB_AUTO_UPDATE=false
// and GRYPE_DB_VALIDATE_AGE=false, since the database is as old as its build).
//
// It lives in the Grype tools module, not the product module: it imports
// Grype, whose dependency graph is Grype's business.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/afero"

	grypedb "github.com/anchore/grype/grype/db"
	"github.com/anchore/grype/grype/db/provider"
	v6 "github.com/anchore/grype/grype/db/v6"
)

// providerVersions are the provider state versions vunnel writes for the
// providers whose processors check it (grype/db/v6/testdb uses the same).
var providerVersions = map[string]int{"nvd": 2, "github": 2, "ubuntu": 3}

func main() {
	in := flag.String("in", "", "folder of provider folders with vunnel result records (required)")
	out := flag.String("out", "", "database root, the GRYPE_DB_CACHE_DIR to scan with (required)")
	flag.Parse()
	if *in == "" || *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: grype-mkdb -in <records> -out <db root>")
		os.Exit(2)
	}
	if err := run(*in, *out); err != nil {
		fmt.Fprintf(os.Stderr, "grype-mkdb: %v\n", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	built, err := buildTime()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "grype-mkdb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	providers, err := os.ReadDir(in)
	if err != nil {
		return err
	}
	var states provider.States
	for _, p := range providers {
		if !p.IsDir() {
			continue
		}
		state, err := workspace(filepath.Join(in, p.Name()), work, p.Name(), built)
		if err != nil {
			return fmt.Errorf("provider %s: %w", p.Name(), err)
		}
		states = append(states, *state)
	}
	if len(states) == 0 {
		return fmt.Errorf("%s holds no provider folder (e.g. nvd/ with result records)", in)
	}

	dbDir := filepath.Join(out, fmt.Sprint(v6.ModelVersion))
	if err := os.RemoveAll(dbDir); err != nil {
		return err
	}
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return err
	}
	if err := grypedb.Build(grypedb.BuildConfig{
		SchemaVersion:       v6.ModelVersion,
		Directory:           dbDir,
		States:              states,
		Timestamp:           built,
		IncludeCPEParts:     []string{"a", "h", "o"},
		InferNVDFixVersions: true,
		Hydrate:             true,
		BatchSize:           100,
	}); err != nil {
		return err
	}
	// import.json carries the database's checksum, which Grype checks on
	// start (GRYPE_DB_VALIDATE_BY_HASH_ON_START) as for a downloaded one.
	if _, err := v6.WriteImportMetadata(afero.NewOsFs(), dbDir, "stagex-fixture-records"); err != nil {
		return err
	}
	fmt.Println(filepath.Join(dbDir, v6.VulnerabilityDBFileName))
	return nil
}

// workspace writes one provider's records into a vunnel workspace under
// work and reads its state back, as the database build expects it.
func workspace(dir, work, name string, built time.Time) (*provider.State, error) {
	records, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(records)
	if len(records) == 0 {
		return nil, fmt.Errorf("%s holds no *.json record", dir)
	}
	ww := provider.NewWorkspaceWriter(work, name)
	var files []provider.File
	for _, r := range records {
		f, err := ww.CopyResultFrom(r)
		if err != nil {
			return nil, err
		}
		files = append(files, *f)
	}
	if err := ww.WriteListing(files); err != nil {
		return nil, err
	}
	listing, err := provider.NewFile(ww.ListingPath())
	if err != nil {
		return nil, err
	}
	listing.Path = "results/" + filepath.Base(ww.ListingPath())
	version := providerVersions[name]
	if version == 0 {
		version = 1
	}
	if err := ww.WriteState(provider.State{
		Provider:            name,
		Version:             version,
		DistributionVersion: 1,
		Processor:           "stagex-grype-mkdb",
		Schema: provider.Schema{
			Version: "1.0.3",
			URL:     "https://raw.githubusercontent.com/anchore/vunnel/main/schema/provider-workspace-state/schema-1.0.3.json",
		},
		Timestamp: built,
		Listing:   listing,
		Store:     "flat-file",
	}); err != nil {
		return nil, err
	}
	return provider.ReadState(filepath.Join(ww.Path(), "metadata.json"))
}

// buildTime is SOURCE_DATE_EPOCH when set, so that the records' provider
// state does not depend on the clock; else now.
func buildTime() (time.Time, error) {
	s := strings.TrimSpace(os.Getenv("SOURCE_DATE_EPOCH"))
	if s == "" {
		return time.Now().UTC(), nil
	}
	var sec int64
	if _, err := fmt.Sscan(s, &sec); err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %v", s, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}
