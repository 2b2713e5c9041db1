package pii_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envmon/envmon/cases/pii"
)

func TestKeysFileSealRotate(t *testing.T) {
	dir := t.TempDir()
	k, err := pii.Open(pii.Source{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, pii.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	v := k.Seal("13800001234", "c1:phone")
	if strings.Contains(v, "13800001234") || pii.KeyID(v) != k.Current() {
		t.Fatalf("sealed %q", v)
	}
	if _, err := k.Open(v, "c2:phone"); err == nil {
		t.Error("opened with the wrong aad")
	}
	old := k.Current()
	h := k.PhoneHash("138-0000-1234")
	id, err := k.Rotate()
	if err != nil || id == old {
		t.Fatalf("rotate: %v %s", err, id)
	}
	// A fresh load of the same file opens both.
	k2, err := pii.Open(pii.Source{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k2.Open(v, "c1:phone"); err != nil || got != "13800001234" {
		t.Errorf("open old value after rotation: %q %v", got, err)
	}
	if pii.KeyID(k2.Seal("x", "")) != id {
		t.Error("the new key is not current after reload")
	}
	if k2.PhoneHash("+86 13800001234") != h || k2.PhoneHash("13800001235") == h {
		t.Error("phone hash changed with rotation or does not tell numbers apart")
	}
	// From the environment.
	k3, err := pii.Open(pii.Source{EnvValue: strings.ReplaceAll(k2.Format(), "\n", ";")})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := k3.Open(v, "c1:phone"); got != "13800001234" {
		t.Error("keyring from the environment cannot open")
	}
	if _, err := pii.Parse("key k1 short\n"); err == nil {
		t.Error("parsed a bad key")
	}
}
