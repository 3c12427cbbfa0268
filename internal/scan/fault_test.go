package scan

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/classify"
	"github.com/impact-ops/impact/internal/dovecottest"
	"github.com/impact-ops/impact/internal/faultproxy"
	"github.com/impact-ops/impact/internal/inventory"
	"github.com/impact-ops/impact/internal/results"
)

// faultTimeouts keep each fault's cost to a second or two. Login stays
// above the half second Dovecot takes to refuse an absent mailbox even with
// auth_failure_delay = 0; Connect (TCP and TLS handshake) and Greeting
// leave room for Dovecot to start a login process per connection while
// other test packages load both cores (at 500 ms a healthy TLS handshake
// timed out then).
var faultTimeouts = Timeouts{Connect: 2 * time.Second, Greeting: time.Second, Login: 1500 * time.Millisecond, Command: 500 * time.Millisecond}

// scanLimit bounds every scan of the four fixture mailboxes: the slowest
// fault costs two login timeouts and a backoff per mailbox.
const scanLimit = 20 * time.Second

// runBounded runs a scan of es and fails the test if it has not returned
// within limit. It returns each mailbox's outcome.
func runBounded(t *testing.T, p *Prober, es []inventory.Entry, rc RunConfig, limit time.Duration) map[string]Outcome {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	outs := map[string]Outcome{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, p, es, rc, func(o Outcome) error {
			mu.Lock()
			defer mu.Unlock()
			if _, dup := outs[o.Record.Mailbox]; dup {
				return fmt.Errorf("%s emitted twice", o.Record.Mailbox)
			}
			outs[o.Record.Mailbox] = o
			return nil
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
	case <-time.After(limit):
		cancel()
		select {
		case <-done:
			t.Fatalf("scan hung: still running after %v, ended only when cancelled", limit)
		case <-time.After(5 * time.Second):
			t.Fatalf("scan hung: still running after %v and 5 s after cancel", limit)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(outs) != len(es) {
		t.Fatalf("%d outcomes for %d mailboxes", len(outs), len(es))
	}
	return outs
}

// TestDovecotFaults puts a fault-injecting proxy between the scanner and a
// real Dovecot. For each fault:
//
//  1. every connection faulty, two attempts: the scan ends in bounded time;
//     each mailbox the fault reaches ends in a transient error naming the
//     step (the earlier attempt recorded with the same reason) and a
//     probe_error verdict carrying it; the others get their right counts;
//  2. a rescan of the failed mailboxes through the healed proxy gets them
//     right;
//  3. only the first two connections the fault reaches are faulty, three
//     attempts: every mailbox right, and Attempts holds exactly the failed
//     attempts, one per fault fired.
func TestDovecotFaults(t *testing.T) {
	fx := incidentFixture()
	srv := dovecottest.Start(t, fx, dovecottest.NoPenalty(), dovecottest.AuthFailureDelay(0))
	all := []string{"anna@isp.example", "bob@mueller-bau.example", "gone@isp.example", "empty@isp.example"}
	loggedIn := []string{"anna@isp.example", "bob@mueller-bau.example", "empty@isp.example"}
	withMail := []string{"anna@isp.example", "bob@mueller-bau.example"}
	slowTimeouts := Timeouts{Connect: 2 * time.Second, Greeting: 2 * time.Second, Login: 2 * time.Second, Command: 2 * time.Second}

	cases := []struct {
		name     string
		tls      TLSMode
		fault    faultproxy.Fault
		timeouts Timeouts // zero: faultTimeouts
		// hits are the mailboxes whose every probe meets the fault; the
		// others never send its trigger.
		hits []string
		// step matches the text of every error the fault causes: it names
		// the step that failed.
		step string
	}{
		{"drop mid-LIST", TLSNone, faultproxy.Fault{Kind: faultproxy.Drop, On: " LIST "}, Timeouts{}, loggedIn, "LIST: "},
		{"drop on LOGIN", TLSNone, faultproxy.Fault{Kind: faultproxy.Drop, On: " LOGIN "}, Timeouts{}, all, "login: "},
		{"BYE mid-LIST", TLSNone, faultproxy.Fault{Kind: faultproxy.Drop, On: " LIST ", Line: "* BYE Server shutting down."}, Timeouts{}, loggedIn, "LIST: "},
		// TLS 1.3: the client's Finished is the first application-data
		// record (0x17 0x03 0x03); the client does not wait for the server to
		// check it, so the loss surfaces at the first command, CAPABILITY.
		{"drop on CAPABILITY after STARTTLS", TLSStartTLS, faultproxy.Fault{Kind: faultproxy.Drop, On: "\x17\x03\x03"}, Timeouts{}, all, "CAPABILITY|greeting"},
		// EXAMINE INBOX goes out with LIST (the cases above); this is the
		// next folder's, written with INBOX's searches, whose answer is
		// awaited first.
		{"drop mid-EXAMINE", TLSNone, faultproxy.Fault{Kind: faultproxy.Drop, On: ` EXAMINE "Archiv/2025"`}, Timeouts{}, []string{"anna@isp.example"}, "(SEARCH SENTBEFORE|EXAMINE): "},
		{"stall before greeting", TLSNone, faultproxy.Fault{Kind: faultproxy.Stall}, Timeouts{}, all, "read greeting: no answer within 1s"},
		{"stall after greeting", TLSNone, faultproxy.Fault{Kind: faultproxy.Stall, Lines: 1}, Timeouts{}, all, "login: no answer within 1.5s"},
		{"stall mid-LIST response", TLSNone, faultproxy.Fault{Kind: faultproxy.Stall, On: " LIST ", Bytes: 30}, Timeouts{}, loggedIn, "LIST: no answer within 500ms"},
		{"stall mid-FETCH response", TLSNone, faultproxy.Fault{Kind: faultproxy.Stall, On: " FETCH ", Bytes: 10}, Timeouts{}, withMail, "(EXAMINE|SEARCH|FETCH INTERNALDATE): no answer within 500ms"},
		{"reset during TLS handshake (implicit)", TLSImplicit, faultproxy.Fault{Kind: faultproxy.Reset}, Timeouts{}, all, "TLS handshake: "},
		{"reset during TLS handshake (STARTTLS)", TLSStartTLS, faultproxy.Fault{Kind: faultproxy.Reset, On: "\x16\x03"}, Timeouts{}, all, "TLS handshake: "},
		{"stall during TLS handshake", TLSImplicit, faultproxy.Fault{Kind: faultproxy.Stall}, Timeouts{Connect: time.Second, Greeting: time.Second, Login: 1500 * time.Millisecond, Command: 500 * time.Millisecond}, all, "TLS handshake: no answer within 1s"},
		{"slow every byte, within the timeouts", TLSNone, faultproxy.Fault{Kind: faultproxy.Slow, Delay: 200 * time.Microsecond}, slowTimeouts, nil, ""},
		{"slow every byte, past the timeouts", TLSNone, faultproxy.Fault{Kind: faultproxy.Slow, Delay: 10 * time.Millisecond}, Timeouts{}, all, "read greeting: no answer within 1s"},
		{"BYE greeting", TLSNone, faultproxy.Fault{Kind: faultproxy.Greet, Line: "* BYE Too many connections, try again later"}, Timeouts{}, all, "server refused the connection: BYE Too many connections"},
	}
	rules := classify.DefaultRules()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			step := regexp.MustCompile(c.step)
			upstream := srv.Addr
			cfg := Config{TLS: c.tls, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: srv.MasterPassword, Cutoff: cutoff, Timeouts: c.timeouts}
			if c.tls == TLSImplicit {
				upstream = srv.TLSAddr
			}
			if c.tls != TLSNone {
				cfg.TLSConfig = caPool(t, srv.CAFile)
			}
			if cfg.Timeouts == (Timeouts{}) {
				cfg.Timeouts = faultTimeouts
			}
			px := faultproxy.New(t, upstream)
			cfg.Server = px.Addr
			p, err := NewProber(cfg)
			if err != nil {
				t.Fatal(err)
			}
			hit := map[string]bool{}
			for _, m := range c.hits {
				hit[m] = true
			}
			rc := RunConfig{Workers: 4, LoginRate: 1000, Backoff: 20 * time.Millisecond}
			es := entries(fx)

			// 1. Every connection faulty.
			px.Set(c.fault)
			rc.Attempts = 2
			start := time.Now()
			outs := runBounded(t, p, es, rc, scanLimit)
			t.Logf("every connection faulty: scan took %v, proxy %+v", time.Since(start).Round(time.Millisecond), px.Stats())
			var failed []inventory.Entry
			for _, e := range es {
				o := outs[e.Mailbox()]
				rec := o.Record
				classify.Decide(&rec, cutoff, rules)
				if !hit[e.Mailbox()] {
					checkRecord(t, o.Record, o.Err)
					if len(rec.Attempts) != 0 || rec.Impact == results.ImpactProbeError {
						t.Errorf("%s: untouched by the fault yet attempts %q, impact %s", e.Mailbox(), rec.Attempts, rec.Impact)
					}
					continue
				}
				failed = append(failed, e)
				t.Logf("%s: %v (earlier: %q)", e.Mailbox(), o.Err, rec.Attempts)
				if o.Err == nil || !IsTransient(o.Err) || !step.MatchString(o.Err.Error()) {
					t.Errorf("%s: err %v, want a transient error matching %q", e.Mailbox(), o.Err, c.step)
					continue
				}
				if rec.Error != o.Err.Error() || rec.Impact != results.ImpactProbeError || !step.MatchString(rec.Evidence) {
					t.Errorf("%s: record error %q, impact %s, evidence %q; want probe_error carrying %q", e.Mailbox(), rec.Error, rec.Impact, rec.Evidence, c.step)
				}
				if len(rec.Attempts) != 1 || !strings.HasPrefix(rec.Attempts[0], "attempt 1: ") || !step.MatchString(rec.Attempts[0]) {
					t.Errorf("%s: attempts %q, want the first attempt's %q", e.Mailbox(), rec.Attempts, c.step)
				}
				// Cut off before every folder was counted, the totals are
				// unknown, never 0 (a LIST cut off once left 0/0 here).
				if rec.BeforeCutoff != nil || rec.AfterCutoff != nil {
					t.Errorf("%s: an unfinished probe has totals %v/%v", e.Mailbox(), deref(rec.BeforeCutoff), deref(rec.AfterCutoff))
				}
			}
			if st := px.Stats(); c.fault.Kind == faultproxy.Slow {
				if st.Fired != st.Connections || st.Connections < len(es) {
					t.Errorf("slow link: %+v, want every connection slowed", st)
				}
			} else if st.Fired != 2*len(c.hits) {
				t.Errorf("proxy %+v: fault fired %d times, want %d (two attempts for each of %d mailboxes)", st, st.Fired, 2*len(c.hits), len(c.hits))
			}
			if c.hits == nil {
				// The slow link still gave right answers, and slower.
				if d := outs["anna@isp.example"].Record.DurationMS; d < 100 {
					t.Errorf("anna probed in %d ms through a slow link, want at least 100", d)
				}
			}

			// 2. Rescan the failed mailboxes through the healed proxy.
			px.Heal()
			rc.Attempts = 2
			if len(failed) > 0 {
				for _, o := range runBounded(t, p, failed, rc, scanLimit) {
					checkRecord(t, o.Record, o.Err)
				}
			}

			// 3. Only the first two connections the fault reaches are faulty.
			before := px.Stats().Fired
			px.SetFirst(2, c.fault)
			rc.Attempts = 3
			outs = runBounded(t, p, es, rc, scanLimit)
			fired := px.Stats().Fired - before
			var attempts []string
			for _, e := range es {
				o := outs[e.Mailbox()]
				checkRecord(t, o.Record, o.Err)
				for _, a := range o.Record.Attempts {
					if !step.MatchString(a) {
						t.Errorf("%s: attempt %q lacks %q", e.Mailbox(), a, c.step)
					}
				}
				attempts = append(attempts, o.Record.Attempts...)
			}
			wantFired, wantAttempts := 2, 2
			if c.hits == nil {
				wantAttempts = 0 // slowed, not failed
			}
			if fired != wantFired || len(attempts) != wantAttempts {
				t.Errorf("first two faulty: fault fired %d times, %d failed attempts recorded %q; want %d and %d", fired, len(attempts), attempts, wantFired, wantAttempts)
			}
		})
	}
}

// TestCancelMidProbe: a scan aborted (second SIGINT) while a probe waits
// for the server ends that probe with the cancellation, not with a finding
// about the server: the error wraps context.Canceled and is no
// *ProtocolError.
func TestCancelMidProbe(t *testing.T) {
	fx := incidentFixture()
	srv := dovecottest.Start(t, fx, dovecottest.NoPenalty(), dovecottest.AuthFailureDelay(0))
	cases := []struct {
		name  string
		fault faultproxy.Fault
	}{
		{"waiting for LIST", faultproxy.Fault{Kind: faultproxy.Stall, On: " LIST ", Bytes: 30}},
		{"waiting for EXAMINE", faultproxy.Fault{Kind: faultproxy.Stall, On: " EXAMINE "}},
		{"waiting for FETCH", faultproxy.Fault{Kind: faultproxy.Stall, On: " FETCH ", Bytes: 10}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			px := faultproxy.New(t, srv.Addr)
			px.Set(c.fault)
			p, err := NewProber(Config{Server: px.Addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: srv.MasterPassword, Cutoff: cutoff,
				Timeouts: Timeouts{Connect: 5 * time.Second, Greeting: 5 * time.Second, Login: 5 * time.Second, Command: 5 * time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				for deadline := time.Now().Add(5 * time.Second); px.Stats().Fired == 0 && time.Now().Before(deadline); {
					time.Sleep(5 * time.Millisecond)
				}
				time.Sleep(50 * time.Millisecond)
				cancel()
			}()
			start := time.Now()
			_, err = p.Probe(ctx, inventory.NewEntry(inventory.Fields{Mailbox: "anna@isp.example"}))
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("probe returned %v after the cancel", el)
			}
			var pe *ProtocolError
			if !errors.Is(err, context.Canceled) || errors.As(err, &pe) {
				t.Errorf("cancelled probe: %v (%T), want an error wrapping context.Canceled, no *ProtocolError", err, err)
			}
		})
	}
}
