package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// passwd prints the bcrypt hash of a password read from stdin, for a
// station's mqtt_password_hash or a reader's password_hash in the station
// registry file (docs/MQTT.md, "Provisioning a station"). The password is
// the first line of stdin, without its line ending; it is never echoed.
func passwd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("envmon passwd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cost := fs.Int("cost", bcrypt.DefaultCost, fmt.Sprintf("bcrypt cost, %d to %d; each step doubles the work of a login", bcrypt.MinCost, bcrypt.MaxCost))
	fs.Usage = func() {
		io.WriteString(fs.Output(), `Usage: envmon passwd [flags] < password-file

Reads a password from the first line of stdin and prints its bcrypt hash,
for mqtt_password_hash (a station) or password_hash (a reader) in the
station registry file. For example:

  printf '%s\n' "$STATION_PASSWORD" | envmon passwd

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "envmon passwd: unexpected argument %q: the password is read from stdin, never from the command line\n", fs.Arg(0))
		return 2
	}
	if *cost < bcrypt.MinCost || *cost > bcrypt.MaxCost {
		fmt.Fprintf(stderr, "envmon passwd: --cost %d is not between %d and %d\n", *cost, bcrypt.MinCost, bcrypt.MaxCost)
		return 2
	}
	line, err := bufio.NewReaderSize(stdin, 4096).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(stderr, "envmon passwd: read stdin: %v\n", err)
		return 1
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	switch {
	case pw == "":
		fmt.Fprintln(stderr, "envmon passwd: no password on stdin")
		return 1
	case len(pw) > 72:
		fmt.Fprintf(stderr, "envmon passwd: the password is %d bytes; bcrypt uses at most 72\n", len(pw))
		return 1
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), *cost)
	if err != nil {
		fmt.Fprintf(stderr, "envmon passwd: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, string(hash))
	return 0
}
