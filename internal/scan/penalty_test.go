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
// concurrency it adapts never drops.
func TestDovecotPenaltyDetected(t *testing.T) {
	fx := dovecottest.GenerateFixture(48, 0.125, cutoff)
	srv := dovecottest.Start(t, fx)
	var es []inventory.Entry
	for _, u := range fx.Users {
		es = append(es, inventory.Entry{Mailbox: u.Name, AccountID: u.Name})
	}
	p, err := NewProber(Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: srv.MasterPassword, Cutoff: cutoff})
	if err != nil {
		t.Fatal(err)
	}
	var events []Event
	refused := 0
	st, err := RunWithStats(context.Background(), p, es, RunConfig{Workers: 8, MaxConnections: 16, LoginRate: 1000, Events: func(e Event) { events = append(events, e) }},
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
			if e.Limit < 8 {
				t.Errorf("penalty read as overload: %s", e.Message)
			}
		}
	}
	if penalties != 1 || !st.PenaltyDetected || st.PenaltyHeld == 0 || st.PenaltyWait < 2*time.Second {
		t.Errorf("penalty events %d, stats %+v", penalties, st)
	}
	if out, err := srv.Doveadm("penalty"); err == nil {
		t.Logf("doveadm penalty:\n%s", out)
	}
}
