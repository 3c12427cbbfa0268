package export

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/peakmem"
	"github.com/impact-ops/impact/internal/results"
)

// syntheticRecords calls each with n mailbox records in about n/2
// accounts (1, 2 or 3 mailboxes each; 30% business, 10% unknown type),
// shaped like a scan's decided records: logged-in mailboxes carry three
// folders with counts and dates, failed ones none. The record passed to
// each is reused for the next call.
func syntheticRecords(n int, each func(*results.Mailbox)) {
	start := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
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
	counted := func(name string, b, a int64, t time.Time) results.Folder {
		return results.Folder{Name: name, Countable: true, Messages: ptr(b + a), BeforeCutoff: ptr(b), AfterCutoff: ptr(a),
			UIDValidity: ptr(uint32(1700000000)), UIDNext: ptr(uint32(b + a + 1)), Oldest: ptr(t.Add(-24 * 365 * time.Hour)), Newest: ptr(t)}
	}
	mb := new(results.Mailbox)
	for acc, m := 0, 0; m < n; acc++ {
		size := min(1+acc%3, n-m)
		typ := results.TypeResidential
		switch acc % 10 {
		case 0, 1, 2:
			typ = results.TypeBusiness
		case 3:
			typ = results.TypeUnknown
		}
		for k := range size {
			imp := pick(m)
			*mb = results.Mailbox{
				Kind: results.KindMailbox, Mailbox: fmt.Sprintf("user%07d@d%05d.example", m, acc%50000), AccountID: fmt.Sprintf("A%07d", acc),
				CustomerType: typ, TypeSource: "inventory", MultiMailbox: size > 1, Impact: imp,
				Product: "Mail Standard", Access: "imap", Created: "2019-03-01",
				ContactName: fmt.Sprintf("Customer %d", acc), ContactPhone: fmt.Sprintf("+41 44 %03d %02d %02d", acc%1000, acc%100, acc%97),
				ProbedAt: start.Add(time.Duration(m) * 10 * time.Millisecond), DurationMS: int64(50 + m%400),
			}
			switch imp {
			case results.ImpactLoginFailed:
				mb.Evidence = "login refused: [AUTHORIZATIONFAILED] Authorization failed"
				mb.Login = results.Login{Outcome: "failed", Code: "AUTHORIZATIONFAILED", Text: "Authorization failed", Method: "LOGIN", DurationMS: 2000}
			case results.ImpactProbeError:
				mb.Error = "probe " + mb.Mailbox + ": login: i/o timeout"
				mb.Evidence = "probe did not finish: " + mb.Error
				mb.Attempts = []string{"connection reset by peer"}
			default:
				mb.Login = results.Login{Outcome: "ok", Text: "Logged in", Method: "LOGIN", DurationMS: 15}
				var before int64
				switch imp {
				case results.ImpactOK:
					before = int64(10 + m%5000)
					mb.Evidence = fmt.Sprintf("%d messages before the cutoff", before)
				case results.ImpactMissingOldMail:
					mb.Evidence = "inventory: created 2019-03-01, access imap"
				default:
					mb.Evidence = "access pop3"
				}
				newest := start.Add(-time.Duration(k) * time.Hour)
				mb.Folders = []results.Folder{counted("INBOX", before, 3, newest), counted("Sent", 0, 1, newest), counted("Trash", 0, 0, newest)}
				mb.BeforeCutoff, mb.AfterCutoff = ptr(before), ptr(int64(4))
				mb.Oldest, mb.Newest = mb.Folders[0].Oldest, mb.Folders[0].Newest
			}
			each(mb)
			m++
		}
	}
}

// synthetic is the report of syntheticRecords(n).
func synthetic(n int) *Report {
	start := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	cut := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	b := NewBuilder()
	syntheticRecords(n, func(m *results.Mailbox) {
		if err := b.Add(m); err != nil {
			panic(err)
		}
	})
	return &Report{
		Title:    "Mail storage incident 2026-11-29",
		Scans:    []results.Scan{{Kind: results.KindScan, StartedAt: start, Cutoff: cut, Mailboxes: n, Target: results.Target{Server: "imap.example.net:993", Host: "imap.example.net", TLS: "implicit"}}},
		Cutoff:   cut,
		Started:  start,
		Finished: start.Add(3 * time.Hour),
		Complete: true,
		Records:  b.Records(),
		Location: time.FixedZone("CET", 3600),
	}
}

func ptr[T any](v T) *T { return &v }

// BenchmarkWorkbook1M builds the Records of 1,000,000 mailboxes in about
// 500,000 accounts from records as a scan writes them (three folders each),
// then writes the workbook with four call queues. Reported besides ns/op
// (the workbook only):
//
//	records-MiB   heap held by the Records, after building
//	build-s       time to build the Records
//	exporter-MiB  highest live heap while writing, minus records-MiB: the
//	              exporter's own working set
//	peak-MiB      highest Go runtime footprint while building and writing
//	file-MiB      size of the workbook
//
// The whole path of impact report (reading a results file included) is
// measured by cmd/impact's BenchmarkReport1M. Peak RSS of the process: run
// the test binary under /usr/bin/time -v.
func BenchmarkWorkbook1M(b *testing.B) {
	p := peakmem.Start()
	started := time.Now()
	r := synthetic(1_000_000)
	buildTime := time.Since(started)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	recordsHeap := ms.HeapAlloc
	dir := b.TempDir()
	path := filepath.Join(dir, "report.xlsx")
	b.ResetTimer()
	for b.Loop() {
		if err := WriteWorkbook(path, r, Options{TmpDir: dir, Queues: 4}); err != nil {
			b.Fatal(err)
		}
	}
	total, live := p.Stop()
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(recordsHeap)/(1<<20), "records-MiB")
	b.ReportMetric(buildTime.Seconds(), "build-s")
	b.ReportMetric((float64(live)-float64(recordsHeap))/(1<<20), "exporter-MiB")
	b.ReportMetric(float64(total)/(1<<20), "peak-MiB")
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
	runtime.KeepAlive(r)
}
