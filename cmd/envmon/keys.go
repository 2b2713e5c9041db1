package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/envmon/envmon/cases"
	"github.com/envmon/envmon/cases/pii"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/internal/config"
)

// keys manages the keyring that seals complainants' personal data:
// "envmon keys rotate [--key-file F] [--data-dir D]" adds a new current key
// to the key file (by default data_dir/cases-keys) and re-encrypts every
// sealed value with it. A keyring given in $ENVMON_CASES_KEYS is the
// operator's to rotate: add a key line there, then run rotate with the new
// value to re-encrypt.
func keys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprint(stderr, "Usage: envmon keys rotate [--key-file F] [--data-dir D]\n")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return 0
		}
		return 2
	}
	fs := flag.NewFlagSet("envmon keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	loader := config.Register(fs, defaults())
	keyFile := fs.String("key-file", "", "the keyring file (default: data_dir/"+pii.DefaultFile+")")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg, err := loader.Load(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "envmon keys rotate: %v\n", err)
		return 2
	}
	env := os.Getenv(pii.Env)
	k, err := pii.Open(pii.Source{File: *keyFile, EnvValue: env, DataDir: cfg.DataDir})
	if err != nil {
		fmt.Fprintf(stderr, "envmon keys rotate: %v\n", err)
		return 1
	}
	id := k.Current()
	if *keyFile != "" || env == "" {
		if id, err = k.Rotate(); err != nil {
			fmt.Fprintf(stderr, "envmon keys rotate: %v\n", err)
			return 1
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	d, err := db.Open(ctx, cfg.DBConfig())
	if err != nil {
		fmt.Fprintf(stderr, "envmon keys rotate: %v\n", err)
		return 1
	}
	defer d.Close()
	n, err := cases.Reseal(ctx, d, k)
	if err != nil {
		fmt.Fprintf(stderr, "envmon keys rotate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "current key %s; re-encrypted %d values\n", id, n)
	return 0
}
