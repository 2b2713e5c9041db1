package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/envmon/envmon/cases"
	"github.com/envmon/envmon/cases/pii"
	"github.com/envmon/envmon/db"
)

// keys manages the keyring that seals complainants' personal data:
// "envmon keys rotate [--key-file F] [--data-dir D]" adds a new current key
// to the key file (by default data_dir/cases-keys) and re-encrypts every
// sealed value with it. A keyring given in $ENVMON_CASES_KEYS is the
// operator's to rotate: add a key line there, then run rotate with the new
// value to re-encrypt.
func keys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, code, ok := newVerb("envmon keys", "rotate", "envmon keys rotate [--key-file F] [--data-dir D]", args, stderr)
	if !ok {
		return code
	}
	keyFile := c.fs.String("key-file", "", "the keyring file (default: data_dir/"+pii.DefaultFile+")")
	cfg, code, ok := c.parse(args)
	if !ok {
		return code
	}
	env := os.Getenv(pii.Env)
	k, err := pii.Open(pii.Source{File: *keyFile, EnvValue: env, DataDir: cfg.DataDir})
	if err != nil {
		return c.fail(1, "%v", err)
	}
	id := k.Current()
	if *keyFile != "" || env == "" {
		if id, err = k.Rotate(); err != nil {
			return c.fail(1, "%v", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	d, err := db.Open(ctx, cfg.DBConfig())
	if err != nil {
		return c.fail(1, "%v", err)
	}
	defer d.Close()
	n, err := cases.Reseal(ctx, d, k)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	fmt.Fprintf(stdout, "current key %s; re-encrypted %d values\n", id, n)
	return 0
}
