package spool

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// The environment of TestCrashChild, set by TestCrash.
const (
	crashDirEnv   = "ENVMON_SPOOL_CRASH_DIR"
	crashStartEnv = "ENVMON_SPOOL_CRASH_START"
	crashSyncEnv  = "ENVMON_SPOOL_CRASH_SYNC"
)

// crashOptions are the options of both the crashing child and the parent
// that recovers after it: small segments, so that kills land around
// rollovers too.
func crashOptions(policy SyncPolicy) Options {
	return Options{Sync: policy, SegmentBytes: 4 << 10}
}

// TestCrashChild is the process that TestCrash kills. It appends records
// numbered from $ENVMON_SPOOL_CRASH_START in batches of one to seven and
// prints "acked N" after each Append returns, where N is one more than the
// last record number acknowledged, until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrash")
	}
	start, err := strconv.Atoi(os.Getenv(crashStartEnv))
	if err != nil {
		t.Fatal(err)
	}
	var policy SyncPolicy
	if err := policy.UnmarshalText([]byte(os.Getenv(crashSyncEnv))); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, testOptions(t, crashOptions(policy)))
	if err != nil {
		t.Fatal(err)
	}
	for i := start; i < start+1_000_000; {
		n := 1 + i%7
		if err := s.Append(t.Context(), recs(i, i+n)...); err != nil {
			t.Fatal(err)
		}
		i += n
		fmt.Fprintf(os.Stdout, "acked %d\n", i) // unbuffered: out before the next Append
	}
	t.Fatal("not killed")
}

// TestCrash kills a process that is appending to a spool with SIGKILL, then
// checks that every record whose Append returned is in the spool, in order,
// with no gap and no repeat; and does so again, appending to the same
// spool, a few times over.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	for _, policy := range []SyncPolicy{SyncAlways, SyncInterval} {
		t.Run(policy.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			const (
				rounds   = 4
				perRound = 300 // records acknowledged before the kill
			)
			have := 0 // records in the spool, 0 … have-1
			for round := range rounds {
				acked := crashChild(t, dir, policy, have, have+perRound)
				s, err := Open(dir, testOptions(t, crashOptions(policy)))
				if err != nil {
					t.Fatalf("round %d: Open after kill: %v", round, err)
				}
				n := int(s.Len())
				if n < acked {
					s.Close()
					t.Fatalf("round %d: %d records in the spool, but %d were acknowledged", round, n, acked)
				}
				got, _ := readN(t, s, n, 1000)
				for i, r := range got {
					if string(r) != string(rec(i)) {
						s.Close()
						t.Fatalf("round %d: record %d is %q, want %q", round, i, r, rec(i))
					}
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				t.Logf("round %d: %d acknowledged, %d in the spool", round, acked, n)
				have = n
			}
		})
	}
}

// crashChild runs TestCrashChild on dir from record start, kills it with
// SIGKILL once it has acknowledged record killAt-1 or later, and returns
// how many records it acknowledged in all (counting those before start).
func crashChild(t *testing.T, dir string, policy SyncPolicy, start, killAt int) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		crashDirEnv+"="+dir,
		crashStartEnv+"="+strconv.Itoa(start),
		crashSyncEnv+"="+policy.String(),
	)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked, killed := start, false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		n, ok := strings.CutPrefix(sc.Text(), "acked ")
		if !ok {
			continue // the test framework's own output
		}
		i, err := strconv.Atoi(n)
		if err != nil {
			t.Fatalf("child printed %q", sc.Text())
		}
		acked = i
		if !killed && acked >= killAt {
			// Lines printed before the kill lands still count: keep reading
			// to the end.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before it was killed: %v\n%s", err, stderr.String())
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
		t.Fatalf("child: %v, want killed by a signal\n%s", err, stderr.String())
	}
	return acked
}
