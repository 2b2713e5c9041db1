package cases_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/envmon/envmon/alerts/notify"
	"github.com/envmon/envmon/cases"
	"github.com/envmon/envmon/cases/pii"
)

// complaint files a desk complaint about air at Civic Square, received
// now, dlat degrees north of the first, and returns its receipt.
func complaint(t *testing.T, e *env, dlat float64) cases.Receipt {
	t.Helper()
	lat, lon := 30.65987+dlat, 104.06712
	rc, err := e.svc.Submit(context.Background(), cases.Complaint{Channel: cases.SourceDesk, Category: "air", Description: "smoke", Lat: &lat, Lon: &lon})
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// act applies each action to case id as the admin; "close:R" closes with
// rating R.
func act(t *testing.T, e *env, id string, actions ...string) {
	t.Helper()
	for _, a := range actions {
		var in cases.ActionInput
		if a == "close:good" || a == "close:poor" {
			a, in.Rating = "close", a[len("close:"):]
		}
		if _, err := e.svc.Act(context.Background(), admin, id, a, in); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
}

// toResolved takes a new complaint case to resolved.
var toResolved = []string{"acknowledge", "contact", "forward", "start", "resolve"}

func timer(t *testing.T, e *env, id, kind string) cases.Timer {
	t.Helper()
	c, err := e.svc.Get(context.Background(), admin, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range c.Timers {
		if tm.Kind == kind {
			return tm
		}
	}
	t.Fatalf("case %s has no %s timer", id, kind)
	return cases.Timer{}
}

// sent returns the notifications of kind k about the deadline.
func (s *sink) sent(k notify.Kind, deadline string) []notify.Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []notify.Notification
	for _, n := range s.got {
		if n.Kind == k && n.Episode.Labels["deadline"] == deadline {
			out = append(out, n)
		}
	}
	return out
}

// TestRearmedTimerNotifies re-arms a recheck with a second poor rating:
// its counts start again, and its reminder must still be sent, under a
// key of its own.
func TestRearmedTimerNotifies(t *testing.T) {
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			c := &clock{t: at("2026-05-11 09:00")} // a Monday
			sk := &sink{}
			e := newEnv(t, eng.fresh(t), c, pii.New(), sk, &bytes.Buffer{}, "r1")
			id := complaint(t, e, 0).CaseID
			act(t, e, id, append(toResolved, "close:poor")...) // recheck due Wed 09:00
			c.Set(at("2026-05-13 07:00"))
			e.tick()
			c.Set(at("2026-05-13 08:00"))
			act(t, e, id, "reopen", "resolve", "close:poor") // recheck due Fri 08:00
			c.Set(at("2026-05-15 06:00"))
			e.tick()
			got := sk.sent(cases.KindReminder, cases.TimerRecheck)
			if len(got) != 2 {
				t.Fatalf("%d recheck reminders for two poor ratings, want 2", len(got))
			}
			if got[0].Key == got[1].Key {
				t.Errorf("both reminders have the key %s", got[0].Key)
			}
			sk.dups(t)
		})
	}
}

// TestAnsweredRecheckDoesNotEscalate: a poor rating's recheck is answered
// by reopening the case, and no timer of a case closed with a rating
// other than poor acts, neither one left pending by a reopen nor one left
// pending in the database by an earlier version.
func TestAnsweredRecheckDoesNotEscalate(t *testing.T) {
	for _, eng := range engines {
		for _, tt := range []struct {
			name  string
			after []string // after the reopen
			// stale sets the recheck timer pending again after the
			// closing, as rows armed before this fix are.
			stale bool
			want  cases.State
		}{
			{"reopened and worked", nil, false, cases.InProgress},
			{"reopened and closed well", []string{"resolve", "close:good"}, false, cases.Closed},
			{"recheck pending from before", []string{"resolve", "close:good"}, true, cases.Closed},
		} {
			t.Run(eng.name+"/"+tt.name, func(t *testing.T) {
				c := &clock{t: at("2026-05-11 09:00")}
				sk := &sink{}
				e := newEnv(t, eng.fresh(t), c, pii.New(), sk, &bytes.Buffer{}, "r1")
				id := complaint(t, e, 0).CaseID
				act(t, e, id, append(toResolved, "close:poor")...) // recheck due Wed 09:00
				c.Set(at("2026-05-11 10:00"))
				act(t, e, id, append([]string{"reopen"}, tt.after...)...) // feedback due Thu 24:00
				if tt.stale {
					if _, err := e.db.SQL().ExecContext(context.Background(), `UPDATE cases_timers SET state = 'pending', met_at = NULL, next = deadline WHERE case_id = $1 AND kind = 'recheck'`, id); err != nil {
						t.Fatal(err)
					}
				}
				for _, s := range []string{"2026-05-13 07:00", "2026-05-13 09:00", "2026-05-13 13:00", "2026-05-14 09:00"} {
					c.Set(at(s))
					e.tick()
				}
				got, err := e.svc.Get(context.Background(), admin, id)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != tt.want || got.Escalation != 0 || got.Priority != 0 {
					t.Errorf("case %s, escalation %d, priority %d; want %s, 0, 0", got.State, got.Escalation, got.Priority, tt.want)
				}
				if n := len(sk.got); n != 0 {
					t.Errorf("%d notifications, want none: %v", n, sk.kinds())
				}
				if rc := timer(t, e, id, cases.TimerRecheck); rc.State == "pending" {
					t.Errorf("the recheck timer is still pending")
				}
			})
		}
	}
}

// TestComplexNeverShortens: complex sets the feedback deadline to 7
// working days from entry, unless a reopen or a pause has made it later.
func TestComplexNeverShortens(t *testing.T) {
	for _, eng := range engines {
		for _, tt := range []struct {
			name   string
			before func(e *env, id string) // from assigned, at Mon 09:00
			want   time.Time               // the feedback deadline after complex, zero: as before
		}{
			{"from entry", func(e *env, id string) {}, at("2026-05-21 00:00")}, // Mon 11 + 7 working days
			{"after a reopen", func(e *env, id string) {
				act(t, e, id, append(toResolved, "close:good")...)
				e.clock.Set(at("2026-05-25 10:00"))
				act(t, e, id, "reopen") // feedback due Thu 28 May, 24:00
			}, time.Time{}},
			{"after a pause", func(e *env, id string) {
				act(t, e, id, "acknowledge", "wait")
				e.clock.Set(at("2026-05-25 09:00"))
				act(t, e, id, "resume") // feedback moved by 14 days to 29 May 00:00
			}, time.Time{}},
			{"while paused after a long pause", func(e *env, id string) {
				act(t, e, id, "acknowledge", "wait")
				e.clock.Set(at("2026-05-25 09:00"))
				act(t, e, id, "resume", "wait")
			}, time.Time{}},
		} {
			t.Run(eng.name+"/"+tt.name, func(t *testing.T) {
				c := &clock{t: at("2026-05-11 09:00")}
				e := newEnv(t, eng.fresh(t), c, pii.New(), &sink{}, &bytes.Buffer{}, "r1")
				id := complaint(t, e, 0).CaseID
				tt.before(e, id)
				was := timer(t, e, id, cases.TimerFeedback).Deadline
				act(t, e, id, "complex")
				want := tt.want
				if want.IsZero() {
					want = was
				}
				if got := timer(t, e, id, cases.TimerFeedback).Deadline; !got.Equal(want) {
					t.Errorf("feedback due %s after complex (was %s), want %s", got.In(shanghai), was.In(shanghai), want.In(shanghai))
				}
			})
		}
	}
}

// TestMergeOnlyIntoOpen: a complaint near an earlier one merges into its
// case only while the case is worked, not once it is resolved or closed.
func TestMergeOnlyIntoOpen(t *testing.T) {
	for _, eng := range engines {
		for _, tt := range []struct {
			name    string
			actions []string
			merged  bool
		}{
			{"assigned", nil, true},
			{"in progress", []string{"acknowledge", "contact", "forward", "start"}, true},
			{"resolved", toResolved, false},
			{"closed", append(toResolved, "close:good"), false},
		} {
			t.Run(eng.name+"/"+tt.name, func(t *testing.T) {
				c := &clock{t: at("2026-05-11 09:00")}
				e := newEnv(t, eng.fresh(t), c, pii.New(), &sink{}, &bytes.Buffer{}, "r1")
				first := complaint(t, e, 0).CaseID
				act(t, e, first, tt.actions...)
				c.Add(time.Hour)
				rc := complaint(t, e, 0.0005) // ~55 m north
				if rc.Merged != tt.merged || (rc.CaseID == first) != tt.merged {
					t.Errorf("merged %v into %s (the first is %s), want merged %v", rc.Merged, rc.CaseID, first, tt.merged)
				}
			})
		}
	}
}
