//go:build !unix

package spool

// lockDir does nothing where flock(2) is missing: the caller must make sure
// that only one process opens a spool directory.
func lockDir(string) (unlock func() error, err error) {
	return func() error { return nil }, nil
}
