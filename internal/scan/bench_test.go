package scan

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
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
// as a share of the login-only floor, alternating the two five times
// (IMPACT_BENCH_PAIRS) on the same warm fixture so that both see the same
// machine: on a shared two-core machine, figures taken minutes apart move
// by 10-20%. Reports the medians, the median of the ratios, and the busy
// CPU time of the whole machine per mailbox (scanner and server: when the
// machine is saturated, the rate is the cores over this).
func BenchmarkDovecotShare(b *testing.B) {
	srv, es := benchFixture(b, 0, dovecottest.NoPenalty())
	cfg := Config{Server: srv.Addr, TLS: TLSNone, Auth: AuthMaster, MasterUser: srv.MasterUser, MasterPassword: srv.MasterPassword, Cutoff: cutoff}
	scanOnceQuiet(b, cfg, es)
	rate := func(rc RunConfig, loginOnly bool) (perSec, cpuMS, busyMS float64) {
		p, err := NewProber(cfg)
		if err != nil {
			b.Fatal(err)
		}
		p.loginOnly = loginOnly
		c0, t0, m0 := cpuTime(), time.Now(), machineBusy()
		if err := Run(context.Background(), p, es, rc, func(Outcome) error { return nil }); err != nil {
			b.Fatal(err)
		}
		el, cpu, busy := time.Since(t0), cpuTime()-c0, machineBusy()-m0
		n := float64(len(es))
		return n / el.Seconds(), float64(cpu.Microseconds()) / 1000 / n, float64(busy.Microseconds()) / 1000 / n
	}
	pairs := 5
	if v, err := strconv.Atoi(os.Getenv("IMPACT_BENCH_PAIRS")); err == nil && v > 0 {
		pairs = v
	}
	for range b.N {
		var floors, fulls, ratios, cpus, floorBusy, fullBusy []float64
		for range pairs {
			f, _, fb := rate(RunConfig{Workers: 16, LoginRate: 10000}, true)
			r, c, rb := rate(RunConfig{}, false)
			floors, fulls, ratios, cpus = append(floors, f), append(fulls, r), append(ratios, r/f), append(cpus, c)
			floorBusy, fullBusy = append(floorBusy, fb), append(fullBusy, rb)
		}
		b.ReportMetric(median(floors), "floor-mailboxes/s")
		b.ReportMetric(median(fulls), "defaults-mailboxes/s")
		b.ReportMetric(100*median(ratios), "share-%")
		b.ReportMetric(median(cpus), "cpu-ms/mailbox")
		b.ReportMetric(median(floorBusy), "floor-busy-ms/mailbox")
		b.ReportMetric(median(fullBusy), "defaults-busy-ms/mailbox")
		b.Logf("floor %.1f, defaults %.1f, ratios %.3f", floors, fulls, ratios)
		b.Logf("busy ms per mailbox: floor %.2f, defaults %.2f", floorBusy, fullBusy)
	}
}

// machineBusy is the CPU time all processes of the machine have used
// (user, nice, system, irq, softirq, steal from /proc/stat's cpu line), or
// 0 where /proc/stat cannot be read.
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, f := range fields[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		v, _ := strconv.ParseInt(f, 10, 64)
		ticks += v
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
