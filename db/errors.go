package db

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// PostgreSQL error codes (SQLSTATE) that the helpers below test for.
const (
	pgUniqueViolation      = "23505"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

// IsUniqueViolation reports whether err, or an error it wraps, is a
// violation of a UNIQUE or PRIMARY KEY constraint, on either engine.
func IsUniqueViolation(err error) bool {
	if code, ok := pgCode(err); ok {
		return code == pgUniqueViolation
	}
	if code, ok := sqliteCode(err); ok {
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsRetryable reports whether err, or an error it wraps, says that its
// transaction was rolled back for a conflict with another one and may
// succeed if run again: SQLITE_BUSY or SQLITE_LOCKED on SQLite, a
// serialization failure (40001) or deadlock (40P01) on PostgreSQL.
func IsRetryable(err error) bool {
	if code, ok := pgCode(err); ok {
		return code == pgSerializationFailure || code == pgDeadlockDetected
	}
	if code, ok := sqliteCode(err); ok {
		primary := code & 0xff // extended codes keep the primary in the low byte
		return primary == sqlite3.SQLITE_BUSY || primary == sqlite3.SQLITE_LOCKED
	}
	return false
}

func pgCode(err error) (string, bool) {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code, true
	}
	return "", false
}

func sqliteCode(err error) (int, bool) {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code(), true
	}
	return 0, false
}
