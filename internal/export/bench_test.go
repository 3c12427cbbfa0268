package export

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/classify"
	"github.com/impact-ops/impact/internal/results"
)

// synthetic builds a report of n mailboxes in about n/2 accounts (1, 2 or 3
// mailboxes each), shaped like a scan's results: logged-in mailboxes carry
// three folders with counts and dates, failed ones none.
func synthetic(n int) *Report {
	start := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	cut := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	r := &Report{
		Title:    "Mail storage incident 2026-11-29",
		Scans:    []results.Scan{{Kind: results.KindScan, StartedAt: start, Cutoff: cut, Mailboxes: n, Target: results.Target{Server: "imap.example.net:993", Host: "imap.example.net", TLS: "implicit"}}},
		Cutoff:   cut,
		Started:  start,
		Finished: start.Add(3 * time.Hour),
		Complete: true,
		Location: time.FixedZone("CET", 3600),
	}
	impacts := []results.Impact{ // 5% / 20% / 2% / 10% / 63%
		results.ImpactLoginFailed, results.ImpactMissingOldMail, results.ImpactProbeError, results.ImpactNoOldMail, results.ImpactOK}
	pick := func(i int) results.Impact {
		switch x := (i * 7919) % 100; {
		case x < 5:
			return impacts[0]
		case x < 25:
			return impacts[1]
		case x < 27:
			return impacts[2]
		case x < 37:
			return impacts[3]
		default:
			return impacts[4]
		}
	}
	counted := func(b, a int64, t time.Time) results.Folder {
		return results.Folder{Countable: true, Messages: ptr(b + a), BeforeCutoff: ptr(b), AfterCutoff: ptr(a),
			UIDValidity: ptr(uint32(1700000000)), UIDNext: ptr(uint32(b + a + 1)), Oldest: ptr(t.Add(-24 * 365 * time.Hour)), Newest: ptr(t)}
	}
	for acc, m := 0, 0; m < n; acc++ {
		size := 1 + acc%3
		if m+size > n {
			size = n - m
		}
		a := &classify.Account{ID: fmt.Sprintf("A%07d", acc)}
		switch acc % 10 {
		case 0, 1, 2:
			a.CustomerType = results.TypeBusiness
		case 3:
			a.CustomerType = results.TypeUnknown
		default:
			a.CustomerType = results.TypeResidential
		}
		a.MultiMailbox = size > 1
		contact := fmt.Sprintf("Customer %d", acc)
		phone := fmt.Sprintf("+41 44 %03d %02d %02d", acc%1000, acc%100, acc%97)
		for k := range size {
			imp := pick(m)
			mb := &results.Mailbox{
				Kind: results.KindMailbox, Mailbox: fmt.Sprintf("user%07d@d%05d.example", m, acc%50000), AccountID: a.ID,
				CustomerType: a.CustomerType, TypeSource: "inventory", MultiMailbox: a.MultiMailbox, Impact: imp,
				Product: "Mail Standard", Access: "imap", Created: "2019-03-01", ContactName: contact, ContactPhone: phone,
				ProbedAt: start.Add(time.Duration(m) * 10 * time.Millisecond), DurationMS: int64(50 + m%400),
			}
			switch imp {
			case results.ImpactLoginFailed:
				mb.Evidence = "AUTHORIZATIONFAILED"
				mb.Login = results.Login{Outcome: "failed", Code: "AUTHORIZATIONFAILED", Text: "Authorization failed", Method: "LOGIN", DurationMS: 2000}
				a.LoginFailed++
			case results.ImpactProbeError:
				mb.Evidence = "probe did not finish"
				mb.Error = "probe " + mb.Mailbox + ": login: i/o timeout"
				mb.Attempts = []string{"connection reset by peer"}
				a.ProbeErrors++
			default:
				mb.Login = results.Login{Outcome: "ok", Text: "Logged in", Method: "LOGIN", DurationMS: 15}
				var before int64
				switch imp {
				case results.ImpactOK:
					before = int64(10 + m%5000)
					mb.Evidence = "messages before cutoff"
				case results.ImpactMissingOldMail:
					mb.Evidence = "inventory: created 2019-03-01, access imap"
					a.MissingOld++
				default:
					mb.Evidence = "access pop3"
				}
				newest := start.Add(-time.Duration(k) * time.Hour)
				mb.Folders = []results.Folder{counted(before, 3, newest), counted(0, 1, newest), counted(0, 0, newest)}
				mb.Folders[0].Name, mb.Folders[1].Name, mb.Folders[2].Name = "INBOX", "Sent", "Trash"
				mb.BeforeCutoff, mb.AfterCutoff = ptr(before), ptr(int64(4))
				mb.Oldest, mb.Newest = mb.Folders[0].Oldest, mb.Folders[0].Newest
			}
			if imp.Severity() > a.Impact.Severity() || a.Impact == "" {
				a.Impact = imp
			}
			a.Mailboxes = append(a.Mailboxes, mb)
			r.Mailboxes = append(r.Mailboxes, mb)
			m++
		}
		switch {
		case a.CustomerType == results.TypeBusiness && a.MultiMailbox:
			a.Tier = classify.TierBusinessMulti
		case a.CustomerType == results.TypeBusiness:
			a.Tier = classify.TierBusiness
		case a.CustomerType == results.TypeUnknown:
			a.Tier = classify.TierUnknown
		default:
			a.Tier = classify.TierResidential
		}
		r.Accounts = append(r.Accounts, a)
	}
	var ranked []*classify.Account
	for _, a := range r.Accounts {
		if a.Affected() > 0 {
			ranked = append(ranked, a)
		}
	}
	slices.SortFunc(ranked, func(x, y *classify.Account) int {
		return cmp.Or(cmp.Compare(x.Tier, y.Tier), cmp.Compare(y.Affected(), x.Affected()), cmp.Compare(x.ID, y.ID))
	})
	for i, a := range ranked {
		a.Rank = i + 1
	}
	slices.SortFunc(r.Mailboxes, func(x, y *results.Mailbox) int { return cmp.Compare(x.Mailbox, y.Mailbox) })
	return r
}

func ptr[T any](v T) *T { return &v }

// peakSampler records, while running, the highest Go runtime footprint (all
// memory mapped by the runtime, /memory/classes/total:bytes) and the highest
// live heap found by a GC cycle (/gc/heap/live:bytes).
type peakSampler struct {
	stop        chan struct{}
	done        sync.WaitGroup
	total, live uint64
}

func startPeakSampler() *peakSampler {
	p := &peakSampler{stop: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/gc/heap/live:bytes"}}
	p.done.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			p.total = max(p.total, sample[0].Value.Uint64())
			p.live = max(p.live, sample[1].Value.Uint64())
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	})
	return p
}

func (p *peakSampler) Stop() {
	close(p.stop)
	p.done.Wait()
}

// BenchmarkWorkbook1M writes a workbook of 1,000,000 mailboxes in about
// 500,000 accounts, with records as a scan writes them (folders) and with
// the folder detail dropped (no-folders). Reported besides ns/op:
//
//	report-MiB    heap held by the synthetic Report itself, before writing
//	exporter-MiB  highest live heap while writing, minus report-MiB: the
//	              exporter's own working set
//	peak-MiB      highest Go runtime footprint while writing (report
//	              included, with the GC's slack)
//	file-MiB      size of the workbook
//
// Peak RSS of the process: run the test binary under /usr/bin/time -v with
// one sub-benchmark selected.
func BenchmarkWorkbook1M(b *testing.B) {
	for _, folders := range []bool{true, false} {
		name := "folders"
		if !folders {
			name = "no-folders"
		}
		b.Run(name, func(b *testing.B) { benchmarkWorkbook(b, 1_000_000, folders) })
	}
}

func benchmarkWorkbook(b *testing.B, n int, folders bool) {
	r := synthetic(n)
	if !folders {
		for _, m := range r.Mailboxes {
			m.Folders = nil
		}
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	reportHeap := ms.HeapAlloc
	dir := b.TempDir()
	path := filepath.Join(dir, "report.xlsx")
	p := startPeakSampler()
	for b.Loop() {
		if err := WriteWorkbook(path, r, Options{TmpDir: dir}); err != nil {
			b.Fatal(err)
		}
	}
	p.Stop()
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(reportHeap)/(1<<20), "report-MiB")
	b.ReportMetric((float64(p.live)-float64(reportHeap))/(1<<20), "exporter-MiB")
	b.ReportMetric(float64(p.total)/(1<<20), "peak-MiB")
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
	runtime.KeepAlive(r)
}
