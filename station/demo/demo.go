// Package demo holds the station registry envmon demo ships: five service
// points of a fictional city, twenty stations of every medium, and the
// teams that cover their grid cells, with fictional contacts.
package demo

import (
	_ "embed"

	"github.com/envmon/envmon/station"
)

// YAML is the registry file, as embedded.
//
//go:embed registry.yaml
var YAML []byte

// Name is the registry's file name in errors.
const Name = "station/demo/registry.yaml"

// Registry parses the embedded registry.
func Registry() (station.File, error) { return station.Parse(Name, YAML) }
