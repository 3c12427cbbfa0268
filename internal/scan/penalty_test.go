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
	fx := dovecottest.GenerateFixture(48, 0.125, cutoff)
	srv := dovecottest.Start(t, fx)
	var es []inventory.Entry
	for _, u := range fx.Users {
		es = append(es, inventory.NewEntry(inventory.Fields{Mailbox: u.Name, AccountID: u.Name}))
	}
	p, err := NewProber(Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: srv.MasterPassword, Cutoff: cutoff})
	if err != nil {
		t.Fatal(err)
	}
	var events []Event
	refused := 0
	rc := RunConfig{Workers: 4, MaxConnections: 16, LoginRate: 1000, Events: func(e Event) { events = append(events, e) }}
	st, err := RunWithStats(context.Background(), p, es, rc,
		func(o Outcome) error {
			if o.Record.Login.Outcome == "failed" {
				refused++
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
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
	if out, err := srv.Doveadm("penalty"); err == nil {
		t.Logf("doveadm penalty:\n%s", out)
	}
}

// TestDovecotRateLimit: new connections stay within LoginRate on average
// (up to Workers may open at once), whatever the server could take.
func TestDovecotRateLimit(t *testing.T) {
	fx := dovecottest.GenerateFixture(30, 0, cutoff)
	srv := dovecottest.Start(t, fx, dovecottest.NoPenalty())
	var es []inventory.Entry
	for _, u := range fx.Users {
		es = append(es, inventory.NewEntry(inventory.Fields{Mailbox: u.Name}))
	}
	p, err := NewProber(Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: srv.MasterPassword, Cutoff: cutoff})
	if err != nil {
		t.Fatal(err)
	}
	rc := RunConfig{Workers: 4, LoginRate: 20}
	t0 := time.Now()
	n := 0
	if err := Run(context.Background(), p, es, rc, func(Outcome) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	// The first Workers connections may open at once; the other 26 wait
	// for tokens at 20/s.
	least := time.Duration(float64(len(es)-rc.Workers) / rc.LoginRate * float64(time.Second))
	if el := time.Since(t0); n != len(es) || el < least {
		t.Errorf("%d mailboxes in %v, want %d in at least %v", n, el, len(es), least)
	}
}

// TestDovecotPenaltyAllRefused: every mailbox is gone, so no login ever
// succeeds to show a hold; refusals that take the penalty's hold beyond
// auth_failure_delay show it instead.
func TestDovecotPenaltyAllRefused(t *testing.T) {
	fx := dovecottest.GenerateFixture(20, 1, cutoff)
	srv := dovecottest.Start(t, fx)
	var es []inventory.Entry
	for _, u := range fx.Users {
		es = append(es, inventory.NewEntry(inventory.Fields{Mailbox: u.Name}))
	}
	p, err := NewProber(Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: srv.MasterPassword, Cutoff: cutoff})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	refused := 0
	st, err := RunWithStats(context.Background(), p, es, RunConfig{Workers: 4, MaxConnections: 20, LoginRate: 1000},
		func(o Outcome) error {
			if o.Record.Login.Outcome == "failed" {
				refused++
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if refused != len(es) || !st.PenaltyDetected || st.PenaltyHeld == 0 {
		t.Errorf("%d of %d refused, stats %+v: want all refused and the penalty recognised", refused, len(es), st)
	}
	t.Logf("%d refusals in %v, %d held", refused, time.Since(t0).Round(time.Second), st.PenaltyHeld)
}
