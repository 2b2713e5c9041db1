package simulators

import (
	"embed"
	"io/fs"
)

//go:embed scenarios/*.yaml
var library embed.FS

// Library returns the scenarios shipped in simulators/scenarios, one YAML
// file per scenario, named after it: pollution-episode.yaml and so on.
// Package scenario runs them.
func Library() fs.FS {
	sub, err := fs.Sub(library, "scenarios")
	if err != nil {
		panic(err) // the directory is embedded: it exists
	}
	return sub
}
