//go:build unix

package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// How long lockDir tries a taken lock again.
const (
	lockAttempts = 20
	lockRetry    = 50 * time.Millisecond
)

// lockDir takes an exclusive flock(2) on dir's lock file, so that two
// processes cannot append to one spool. The kernel drops the lock when the
// process dies, however it dies.
func lockDir(dir string) (unlock func() error, err error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	// A lock just dropped can linger for a moment: a child this process is
	// forking (os/exec) holds a copy of the lock file's descriptor until it
	// execs. So a taken lock is tried again for a little while before it
	// counts as another spool's.
	for attempt := 0; ; attempt++ {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f.Close, nil // closing the file drops the lock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || attempt == lockAttempts {
			break
		}
		time.Sleep(lockRetry)
	}
	f.Close()
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("%s is in use by another spool", dir)
	}
	return nil, fmt.Errorf("lock %s: %w", dir, err)
}
