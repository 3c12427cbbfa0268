package scan

import (
	"context"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/dovecottest"
	"github.com/impact-ops/impact/internal/inventory"
)

// TestDovecotPenaltyDetected: a few absent mailboxes among present ones on
// a Dovecot with its default authentication penalty. The scan recognises
// the penalty (and says so once), and does not read it as overload: the
// concurrency it adapts never drops, and logins the penalty holds do not
// take working slots.
func TestDovecotPenaltyDetected(t *testing.T) {
	var events []Event
	rc := RunConfig{Workers: 4, MaxConnections: 16, LoginRate: 1000, Events: func(e Event) { events = append(events, e) }}
	st, refused, _, _ := fixtureScan(t, dovecottest.GenerateFixture(48, 0.125, cutoff), rc)
	if refused != 6 {
		t.Fatalf("%d logins refused, want 6", refused)
	}
	penalties := 0
	for _, e := range events {
		switch e.Kind {
		case EventPenalty:
			penalties++
		case EventConcurrency:
			if e.Limit < rc.Workers {
				t.Errorf("penalty read as overload: %s", e.Message)
			}
		}
	}
	if penalties != 1 || !st.PenaltyDetected || st.PenaltyHeld == 0 || st.PenaltyWait < 2*time.Second {
		t.Errorf("penalty events %d, stats %+v", penalties, st)
	}
	// Held logins give their working slot back: more connections than
	// workers while the penalty holds logins, never more than the ceiling,
	// and never more sessions working than workers.
	if st.PeakConnections <= rc.Workers || st.PeakConnections > rc.MaxConnections || st.PeakWorking > rc.Workers {
		t.Errorf("peak connections %d, working %d; want %d < connections <= %d, working <= %d",
			st.PeakConnections, st.PeakWorking, rc.Workers, rc.MaxConnections, rc.Workers)
	}
}

// TestDovecotRateLimit: new connections stay within LoginRate on average
// (up to Workers may open at once), whatever the server could take.
func TestDovecotRateLimit(t *testing.T) {
	rc := RunConfig{Workers: 4, LoginRate: 20}
	fx := dovecottest.GenerateFixture(30, 0, cutoff)
	_, _, n, took := fixtureScan(t, fx, rc, dovecottest.NoPenalty())
	// The first Workers connections may open at once; the other 26 wait
	// for tokens at 20/s.
	least := time.Duration(float64(len(fx.Users)-rc.Workers) / rc.LoginRate * float64(time.Second))
	if n != len(fx.Users) || took < least {
		t.Errorf("%d mailboxes in %v, want %d in at least %v", n, took, len(fx.Users), least)
	}
}

// TestDovecotPenaltyAllRefused: every mailbox is gone, so no login ever
// succeeds to show a hold; refusals that take the penalty's hold beyond
// auth_failure_delay show it instead.
func TestDovecotPenaltyAllRefused(t *testing.T) {
	fx := dovecottest.GenerateFixture(20, 1, cutoff)
	st, refused, _, took := fixtureScan(t, fx, RunConfig{Workers: 4, MaxConnections: 20, LoginRate: 1000})
	if refused != len(fx.Users) || !st.PenaltyDetected || st.PenaltyHeld == 0 {
		t.Errorf("%d of %d refused, stats %+v: want all refused and the penalty recognised", refused, len(fx.Users), st)
	}
	t.Logf("%d refusals in %v, %d held", refused, took.Round(time.Second), st.PenaltyHeld)
}

// fixtureScan starts a Dovecot with fx, scans all of its users with rc and
// returns the stats, how many logins were refused, how many mailboxes were
// probed and how long the scan took.
func fixtureScan(t *testing.T, fx dovecottest.Fixture, rc RunConfig, opts ...dovecottest.Option) (st Stats, refused, n int, took time.Duration) {
	t.Helper()
	srv := dovecottest.Start(t, fx, opts...)
	var es []inventory.Entry
	for _, u := range fx.Users {
		es = append(es, inventory.NewEntry(inventory.Fields{Mailbox: u.Name}))
	}
	p, err := NewProber(Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: srv.MasterPassword, Cutoff: cutoff})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	st, err = RunWithStats(context.Background(), p, es, rc, func(o Outcome) error {
		n++
		if o.Record.Login.Outcome == "failed" {
			refused++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := srv.Doveadm("penalty"); err == nil {
		t.Logf("doveadm penalty:\n%s", out)
	}
	return st, refused, n, time.Since(t0)
}
