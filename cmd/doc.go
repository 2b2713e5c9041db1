// Package cmd holds envmon's commands. cmd/envmon is the only one; it parses
// the command line and calls app, simulators and internal/calc, nothing more.
package cmd
