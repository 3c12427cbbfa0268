package scan

import (
	"context"
	"fmt"
	"os"
	"slices"
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
		es = append(es, inventory.NewEntry(inventory.Fields{Mailbox: u.Name, AccountID: u.Name}))
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
	c0, t0 := cpuTime(), time.Now()
	st, err := RunWithStats(context.Background(), p, es, rc, func(o Outcome) error {
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
	b.ReportMetric(float64(n)/el.Seconds(), "mailboxes/s")
	b.ReportMetric(float64(st.PeakConnections), "peak-connections")
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
		b.Run(fmt.Sprintf("tls=%s/defaults", tlsMode), func(b *testing.B) {
			for range b.N {
				scanOnce(b, cfg, es, RunConfig{}, false)
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
			e := inventory.NewEntry(inventory.Fields{Mailbox: u.Name, AccountID: u.Name})
			es = append(es, e)
			if u.Absent {
				absent = append(absent, e)
			} else {
				present = append(present, e)
			}
		}
		// What a rescan with --previous does: the mailboxes known to be
		// gone go last.
		known := append(present, absent...)
		cfg := Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: srv.MasterPassword, Cutoff: cutoff}
		settle := func() { time.Sleep(16 * time.Second) } // the penalty lapses 15 s after the last failure
		b.Run(fmt.Sprintf("penalty=%v/defaults", penalty), func(b *testing.B) {
			for range b.N {
				settle()
				scanOnce(b, cfg, es, RunConfig{}, false)
			}
		})
		b.Run(fmt.Sprintf("penalty=%v/defaults/login-only", penalty), func(b *testing.B) {
			for range b.N {
				settle()
				scanOnce(b, cfg, es, RunConfig{}, true)
			}
		})
		b.Run(fmt.Sprintf("penalty=%v/defaults/failures-last", penalty), func(b *testing.B) {
			for range b.N {
				settle()
				scanOnce(b, cfg, known, RunConfig{}, false)
			}
		})
		for _, w := range benchWorkers([]int{64}) {
			b.Run(fmt.Sprintf("penalty=%v/workers=%d", penalty, w), func(b *testing.B) {
				for range b.N {
					settle()
					scanOnce(b, cfg, es, RunConfig{Workers: w, LoginRate: 10000}, false)
				}
			})
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

// BenchmarkDovecotShare measures the full probe at the scanner's defaults
// as a share of the login-only floor, alternating the two three times on
// the same warm fixture so that both see the same machine: on a shared
// two-core machine, figures taken minutes apart move by 10-20%. Reports
// the medians and the median of the three ratios.
func BenchmarkDovecotShare(b *testing.B) {
	srv, es := benchFixture(b, 0, dovecottest.NoPenalty())
	cfg := Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: srv.MasterPassword, Cutoff: cutoff}
	scanOnceQuiet(b, cfg, es)
	rate := func(rc RunConfig, loginOnly bool) (perSec, cpuMS float64) {
		p, err := NewProber(cfg)
		if err != nil {
			b.Fatal(err)
		}
		p.loginOnly = loginOnly
		c0, t0 := cpuTime(), time.Now()
		if err := Run(context.Background(), p, es, rc, func(Outcome) error { return nil }); err != nil {
			b.Fatal(err)
		}
		el, cpu := time.Since(t0), cpuTime()-c0
		return float64(len(es)) / el.Seconds(), float64(cpu.Microseconds()) / 1000 / float64(len(es))
	}
	for range b.N {
		var floors, fulls, ratios, cpus []float64
		for range 3 {
			f, _ := rate(RunConfig{Workers: 16, LoginRate: 10000}, true)
			r, c := rate(RunConfig{}, false)
			floors, fulls, ratios, cpus = append(floors, f), append(fulls, r), append(ratios, r/f), append(cpus, c)
		}
		b.ReportMetric(median(floors), "floor-mailboxes/s")
		b.ReportMetric(median(fulls), "defaults-mailboxes/s")
		b.ReportMetric(100*median(ratios), "share-%")
		b.ReportMetric(median(cpus), "cpu-ms/mailbox")
		b.Logf("floor %v, defaults %v, ratios %v", floors, fulls, ratios)
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
