package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"regexp"
	"slices"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// ErrSchemaNewer is returned by Migrate when the database holds a newer
// version of a component's schema than the migrations given, as when an
// older build of envmon opens a database that a newer one has migrated.
var ErrSchemaNewer = errors.New("database schema is newer than this build")

// componentName is what a component name may be: it becomes part of table
// names and must stay well within PostgreSQL's 63 bytes for identifiers.
var componentName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// VersionTable is the table in which Migrate records the versions of
// component's schema.
func VersionTable(component string) string {
	return "envmon_" + component + "_migrations"
}

// Migrate brings component's tables up to the newest version in
// migrations, a folder of goose SQL files as the package documentation
// describes, and records the versions it applied in the component's own
// table, VersionTable(component). Versions already applied are skipped, so
// Migrate is a no-op on an up-to-date database.
//
// On PostgreSQL, concurrent Migrate calls for one component (as from
// replicas starting together) take turns on an advisory lock. Migrate
// fails with ErrSchemaNewer, and changes nothing, if the database holds a
// version newer than any in migrations.
func (d *DB) Migrate(ctx context.Context, component string, migrations fs.FS) error {
	if err := d.migrate(ctx, component, migrations); err != nil {
		return fmt.Errorf("migrate %s schema on %s: %w", component, d.engine, err)
	}
	return nil
}

func (d *DB) migrate(ctx context.Context, component string, migrations fs.FS) error {
	if !componentName.MatchString(component) {
		return fmt.Errorf("bad component name %q: want [a-z][a-z0-9_]*, at most 40 bytes", component)
	}
	fsys, err := engineFS(migrations, d.engine)
	if err != nil {
		return err
	}
	table := VersionTable(component)
	opts := []goose.ProviderOption{
		goose.WithTableName(table),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(d.log.With("component", component)),
	}
	dialect := goose.DialectSQLite3
	if d.engine == Postgres {
		dialect = goose.DialectPostgres
		// One lock per schema and component, so that components, and
		// tests in schemas of their own, do not wait for each other.
		var schema sql.NullString // NULL when no schema of search_path exists
		if err := d.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return err
		}
		h := fnv.New64a()
		h.Write([]byte(schema.String + "." + table))
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(int64(h.Sum64())),
			lock.WithLockTimeout(1, 300), // poll every second, for 5 minutes
		)
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	// On SQLite, goose's transactions are read-write ones, so they take the
	// write lock at BEGIN.
	p, err := goose.NewProvider(dialect, d.db, fsys, opts...)
	if err != nil {
		return err
	}
	// p.Close would close d's pool: the provider is dropped instead.
	sources := p.ListSources()
	known := sources[len(sources)-1].Version // NewProvider fails on an empty folder
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return err
	}
	if current > known {
		return fmt.Errorf("%w: %s is at version %d, and this build knows versions up to %d only", ErrSchemaNewer, table, current, known)
	}
	if _, err := p.Up(ctx); err != nil {
		return err
	}
	if current < known {
		d.log.InfoContext(ctx, "migrated database schema", "component", component, "engine", d.engine, "from", current, "to", known)
	}
	return nil
}

// engineFS returns the folder of migrations for engine e: the root of m
// when m has its .sql files there, else m's subfolder named after e, in
// which case every engine must have its folder, with the same versions.
func engineFS(m fs.FS, e Engine) (fs.FS, error) {
	root, err := fs.Glob(m, "*.sql")
	if err != nil {
		return nil, err
	}
	var dirs []Engine
	for _, x := range []Engine{SQLite, Postgres} {
		if fi, err := fs.Stat(m, string(x)); err == nil && fi.IsDir() {
			dirs = append(dirs, x)
		}
	}
	switch {
	case len(dirs) == 0:
		if len(root) == 0 {
			return nil, errors.New("no .sql migrations at the root of the folder, nor sqlite/ and postgres/ subfolders")
		}
		return m, nil
	case len(root) > 0:
		return nil, fmt.Errorf("both .sql files at the root (%s) and an engine subfolder (%s/): use one or the other", root[0], dirs[0])
	case len(dirs) == 1:
		return nil, fmt.Errorf("migrations for %s only: each engine needs its folder, sqlite/ and postgres/", dirs[0])
	}
	sqliteV, err := versions(m, SQLite)
	if err != nil {
		return nil, err
	}
	pgV, err := versions(m, Postgres)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(sqliteV, pgV) {
		return nil, fmt.Errorf("sqlite/ has versions %v but postgres/ has %v: each version must exist for both engines", sqliteV, pgV)
	}
	return fs.Sub(m, string(e))
}

// versions returns the sorted versions of the .sql files in folder e of m.
func versions(m fs.FS, e Engine) ([]int64, error) {
	names, err := fs.Glob(m, string(e)+"/*.sql")
	if err != nil {
		return nil, err
	}
	var vs []int64
	for _, n := range names {
		v, err := goose.NumericComponent(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs, nil
}
