package scan

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/dovecottest"
	"github.com/impact-ops/impact/internal/inventory"
)

// Benchmarks against a real Dovecot with 2,000 mailboxes. Run by hand, e.g.
//
//	go test ./internal/scan -run '^$' -bench BenchmarkDovecot -benchtime 1x -timeout 60m
//
// Each reports mailboxes/s and the scanner's own CPU per mailbox (user+sys
// of this process, which also holds the fixture writer but is idle then).
// IMPACT_BENCH_MAILBOXES overrides the 2,000.

func benchMailboxes() int {
	if v, err := strconv.Atoi(os.Getenv("IMPACT_BENCH_MAILBOXES")); err == nil && v > 0 {
		return v
	}
	return 2000
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchFixture(b *testing.B, absent float64, opts ...dovecottest.Option) (*dovecottest.Server, []inventory.Entry) {
	fx := dovecottest.GenerateFixture(benchMailboxes(), absent, cutoff)
	srv := dovecottest.Start(b, fx, opts...)
	var es []inventory.Entry
	for _, u := range fx.Users {
		es = append(es, inventory.Entry{Mailbox: u.Name, AccountID: u.Name})
	}
	return srv, es
}

// scanOnce runs a full scan and reports its figures.
func scanOnce(b *testing.B, cfg Config, es []inventory.Entry, rc RunConfig, loginOnly bool) {
	p, err := NewProber(cfg)
	if err != nil {
		b.Fatal(err)
	}
	p.loginOnly = loginOnly
	var n, failed, errs int
	var maxOpen int
	c0, t0 := cpuTime(), time.Now()
	err = Run(context.Background(), p, es, rc, func(o Outcome) error {
		n++
		switch o.Record.Login.Outcome {
		case "failed":
			failed++
		case "ok":
		default:
			errs++
		}
		return nil
	})
	el, cpu := time.Since(t0), cpuTime()-c0
	if err != nil {
		b.Fatalf("scan: %v", err)
	}
	_ = maxOpen
	b.ReportMetric(float64(n)/el.Seconds(), "mailboxes/s")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/mailbox")
	b.ReportMetric(float64(failed), "login-failed")
	b.ReportMetric(float64(errs), "probe-errors")
}

func BenchmarkDovecotScan(b *testing.B) {
	srv, es := benchFixture(b, 0, dovecottest.NoPenalty())
	warm := Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: srv.MasterPassword, Cutoff: cutoff}
	// One pass to build Dovecot's indexes: the figures are for warm indexes.
	scanOnceQuiet(b, warm, es)
	for _, tlsMode := range []TLSMode{TLSNone, TLSImplicit} {
		cfg := warm
		if tlsMode == TLSImplicit {
			cfg.Server, cfg.TLS, cfg.TLSConfig = srv.TLSAddr, TLSImplicit, caPoolB(b, srv.CAFile)
		}
		b.Run(fmt.Sprintf("tls=%s/login-only", tlsMode), func(b *testing.B) {
			for range b.N {
				scanOnce(b, cfg, es, RunConfig{Workers: 16, LoginRate: 10000}, true)
			}
		})
		b.Run(fmt.Sprintf("tls=%s/adaptive=8..16", tlsMode), func(b *testing.B) {
			for range b.N {
				scanOnce(b, cfg, es, RunConfig{Workers: 8, MaxConnections: 16, LoginRate: 10000}, false)
			}
		})
		for _, w := range []int{1, 4, 8, 16, 32} {
			b.Run(fmt.Sprintf("tls=%s/workers=%d", tlsMode, w), func(b *testing.B) {
				for range b.N {
					scanOnce(b, cfg, es, RunConfig{Workers: w, LoginRate: 10000}, false)
				}
			})
		}
	}
}

// BenchmarkDovecotPenalty: 10% of the mailboxes are gone, Dovecot's
// authentication penalty in force (its defaults), against the same fixture
// with the penalty off.
func BenchmarkDovecotPenalty(b *testing.B) {
	for _, penalty := range []bool{true, false} {
		var opts []dovecottest.Option
		if !penalty {
			opts = append(opts, dovecottest.NoPenalty())
		}
		fx := dovecottest.GenerateFixture(benchMailboxes(), 0.10, cutoff)
		srv := dovecottest.Start(b, fx, opts...)
		var es, present, absent []inventory.Entry
		for _, u := range fx.Users {
			e := inventory.Entry{Mailbox: u.Name, AccountID: u.Name}
			es = append(es, e)
			if u.Absent {
				absent = append(absent, e)
			} else {
				present = append(present, e)
			}
		}
		// What a rescan with --previous does: the mailboxes known to be
		// gone go last, together.
		known := append(append([]inventory.Entry{}, present...), absent...)
		interleaved := interleave(present, absent, 64)
		cfg := Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: srv.MasterPassword, Cutoff: cutoff}
		for _, w := range benchWorkers([]int{16, 64}) {
			b.Run(fmt.Sprintf("penalty=%v/workers=%d", penalty, w), func(b *testing.B) {
				for range b.N {
					scanOnce(b, cfg, es, RunConfig{Workers: w, LoginRate: 10000}, false)
				}
			})
			if penalty && os.Getenv("IMPACT_BENCH_SCHEDULES") != "" {
				b.Run(fmt.Sprintf("penalty=%v/workers=%d/failures-last", penalty, w), func(b *testing.B) {
					for range b.N {
						scanOnce(b, cfg, known, RunConfig{Workers: w, LoginRate: 10000}, false)
					}
				})
				b.Run(fmt.Sprintf("penalty=%v/workers=%d/failures-interleaved", penalty, w), func(b *testing.B) {
					for range b.N {
						scanOnce(b, cfg, interleaved, RunConfig{Workers: w, LoginRate: 10000}, false)
					}
				})
			}
		}
	}
}

func benchWorkers(def []int) []int {
	if v, err := strconv.Atoi(os.Getenv("IMPACT_BENCH_WORKERS")); err == nil && v > 0 {
		return []int{v}
	}
	return def
}

func scanOnceQuiet(b *testing.B, cfg Config, es []inventory.Entry) {
	p, err := NewProber(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := Run(context.Background(), p, es, RunConfig{Workers: 16, LoginRate: 10000}, func(Outcome) error { return nil }); err != nil {
		b.Fatal(err)
	}
}

// interleave puts the failures at the end in batches of n, each followed
// by n present mailboxes: a held login that succeeds resets Dovecot's
// penalty, so the next batch of failures starts from none.
func interleave(present, failures []inventory.Entry, n int) []inventory.Entry {
	k := len(present) - min(len(present), n*((len(failures)+n-1)/n))
	out := append([]inventory.Entry{}, present[:k]...)
	rest := present[k:]
	for i := 0; i < len(failures); i += n {
		out = append(out, failures[i:min(i+n, len(failures))]...)
		j := min(n, len(rest))
		out = append(out, rest[:j]...)
		rest = rest[j:]
	}
	return append(out, rest...)
}
