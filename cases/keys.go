package cases

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"

	"github.com/envmon/envmon/cases/pii"
	"github.com/envmon/envmon/db"
)

// Reseal re-encrypts every complainant value of d not sealed with keys'
// current key, in one transaction, and returns how many it re-sealed. It
// migrates the cases tables first, so that it runs on a fresh database.
func Reseal(ctx context.Context, d *db.DB, keys *pii.Keyring) (int, error) {
	sub, _ := fs.Sub(migrations, "migrations")
	if err := d.Migrate(ctx, "cases", sub); err != nil {
		return 0, err
	}
	cur := keys.Current()
	n := 0
	err := d.Tx(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `SELECT id, name_enc, phone_enc, email_enc FROM cases_complainants ORDER BY id`)
		if err != nil {
			return err
		}
		type row struct{ id, name, phone, email string }
		var all []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.name, &r.phone, &r.email); err != nil {
				rows.Close()
				return err
			}
			all = append(all, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range all {
			vals := []*string{&r.name, &r.phone, &r.email}
			changed := false
			for i, what := range []string{"name", "phone", "email"} {
				v := *vals[i]
				if v == "" || pii.KeyID(v) == cur {
					continue
				}
				aad := "complainant:" + r.id + ":" + what
				plain, err := keys.Open(v, aad)
				if err != nil {
					return fmt.Errorf("complainant %s %s: %w", r.id, what, err)
				}
				*vals[i] = keys.Seal(plain, aad)
				changed = true
				n++
			}
			if changed {
				if _, err := tx.ExecContext(ctx, `UPDATE cases_complainants SET name_enc = $1, phone_enc = $2, email_enc = $3 WHERE id = $4`, r.name, r.phone, r.email, r.id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cases: reseal: %w", err)
	}
	return n, nil
}
