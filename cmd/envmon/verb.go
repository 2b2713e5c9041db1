package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/envmon/envmon/internal/config"
)

// verbCommand is a subcommand with one verb, such as "token create", that
// reads serve's configuration (flags, variables, --config) to find the
// data it works on.
type verbCommand struct {
	name, verb, usage string
	stderr            io.Writer
	fs                *flag.FlagSet
	loader            *config.Loader
}

// newVerb checks that args start with verb, printing usage otherwise, and
// returns the command with its flag set ready for the verb's own flags;
// ok false means exit with code.
func newVerb(name, verb, usage string, args []string, stderr io.Writer) (c *verbCommand, code int, ok bool) {
	if len(args) == 0 || args[0] != verb {
		fmt.Fprintf(stderr, "Usage: %s\n", usage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return nil, 0, false
		}
		return nil, 2, false
	}
	fs := flag.NewFlagSet(name+" "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &verbCommand{name: name, verb: verb, usage: usage, stderr: stderr, fs: fs, loader: config.Register(fs, defaults())}, 0, true
}

// parse parses the verb's arguments and loads the configuration; ok
// false means exit with code.
func (c *verbCommand) parse(args []string) (cfg config.Config, code int, ok bool) {
	if err := c.fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, 0, false
		}
		return cfg, 2, false
	}
	if c.fs.NArg() > 0 {
		return cfg, c.fail(2, "unexpected argument %q", c.fs.Arg(0)), false
	}
	cfg, err := c.loader.Load(os.Getenv)
	if err != nil {
		return cfg, c.fail(2, "%v", err), false
	}
	return cfg, 0, true
}

// fail prints an error naming the command and returns code.
func (c *verbCommand) fail(code int, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "%s %s: %s\n", c.name, c.verb, fmt.Sprintf(format, args...))
	return code
}
