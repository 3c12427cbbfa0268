package scan

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/dovecottest"
	"github.com/impact-ops/impact/internal/inventory"
	"github.com/impact-ops/impact/internal/results"
)

// BenchmarkPenaltyBurst is an experiment for the authentication penalty:
// the mailboxes known to be gone are refused either through the normal
// scheduler (one after another as connections free up) or in bursts whose
// logins are all sent at one instant over connections opened beforehand,
// so that every login of a burst may reach Dovecot before the first
// refusal raises the penalty. Run by hand:
//
//	go test ./internal/scan -run '^$' -bench BenchmarkPenaltyBurst -benchtime 1x
func BenchmarkPenaltyBurst(b *testing.B) {
	fx := dovecottest.GenerateFixture(benchMailboxes(), 0.10, cutoff)
	srv := dovecottest.Start(b, fx)
	var absent, present []inventory.Entry
	for _, u := range fx.Users {
		e := inventory.NewEntry(inventory.Fields{Mailbox: u.Name, AccountID: u.Name})
		if u.Absent {
			absent = append(absent, e)
		} else {
			present = append(present, e)
		}
	}
	cfg := Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: srv.MasterPassword, Cutoff: cutoff}
	p, err := NewProber(cfg)
	if err != nil {
		b.Fatal(err)
	}
	settle := func() { time.Sleep(16 * time.Second) } // the penalty decays after 15 s
	b.Run("scheduler", func(b *testing.B) {
		settle()
		t0 := time.Now()
		if err := Run(context.Background(), p, absent, RunConfig{Workers: 64, LoginRate: 10000}, func(Outcome) error { return nil }); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "s-for-refusals")
	})
	bursts := func(b *testing.B, reset bool) {
		settle()
		t0 := time.Now()
		for i := 0; i < len(absent); i += 64 {
			if reset && i > 0 {
				// A held login that succeeds resets the penalty, so the
				// next burst starts from none.
				if _, err := p.Probe(context.Background(), present[i]); err != nil {
					b.Fatal(err)
				}
			}
			batch := absent[i:min(i+64, len(absent))]
			sessions := make([]*session, len(batch))
			var wg sync.WaitGroup
			for j := range batch {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s, err := dial(context.Background(), &cfg, nil, batch[j].Mailbox())
					if err == nil {
						_, _ = p.capabilities(context.Background(), s)
					}
					sessions[j] = s
				}()
			}
			wg.Wait()
			start := make(chan struct{})
			for j, s := range sessions {
				if s == nil {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					var l results.Login
					_ = p.login(context.Background(), s, batch[j], &l, nil)
					s.close()
				}()
			}
			close(start)
			wg.Wait()
		}
		b.ReportMetric(time.Since(t0).Seconds(), "s-for-refusals")
	}
	b.Run("bursts", func(b *testing.B) { bursts(b, false) })
	b.Run("bursts-with-reset", func(b *testing.B) { bursts(b, true) })
	if out, err := srv.Doveadm("penalty"); err == nil {
		b.Log(fmt.Sprint(out))
	}
}
