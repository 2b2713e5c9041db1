// Command envmon runs the envmon environmental monitoring service, its demo
// and simulators, and the standards calculators. main only parses the
// command line and wires packages together; see docs/ARCHITECTURE.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/envmon/envmon/internal/calc"
)

const usage = `envmon: environmental monitoring for eco-environmental service points.

Usage:
  envmon <command> [flags]

Commands:
  serve     run the service: MQTT ingest, storage and the HTTP API
  demo      serve, plus about 20 simulated stations at 5 service points
  sim       publish simulated station readings to an MQTT broker
  passwd    print the bcrypt hash of a password read from stdin, for the station registry
  token     create a bearer token for the enforcement API (token create --role R)
  keys      re-encrypt complainants' personal data under a new key (keys rotate)
  deadline  print every due time of a case received at a time (deadline --received T)
  aqi       compute an air quality index (HJ 633-2026, HJ 633-2012, US EPA)
  water     classify surface water (GB 3838-2002)
  noise     evaluate noise levels against GB 3096-2008
  version   print the version

Run 'envmon <command> --help' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs one command until it finishes or ctx is done, and returns the
// process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr, false)
	case "demo":
		return serve(ctx, rest, stdout, stderr, true)
	case "sim":
		return sim(ctx, rest, stdout, stderr)
	case "passwd":
		return passwd(rest, os.Stdin, stdout, stderr)
	case "token":
		return token(ctx, rest, stdout, stderr)
	case "keys":
		return keys(ctx, rest, stdout, stderr)
	case "deadline":
		return deadline(rest, stdout, stderr)
	case "aqi":
		return calc.AQI(rest, stdout, stderr)
	case "water":
		return calc.Water(rest, stdout, stderr)
	case "noise":
		return calc.Noise(rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "envmon", version())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "envmon: unknown command %q\n\n%s", cmd, usage)
	return 2
}
