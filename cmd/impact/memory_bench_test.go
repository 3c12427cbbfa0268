package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/impact-ops/impact/internal/peakmem"
)

// writeBigInventory writes an inventory of n rows as the demo's billing
// export has them (semicolons, BOM, CRLF; customer_id, email, segment,
// product, opened DD.MM.YYYY, access, contact, phone; about 115 bytes a
// row), with a quarter of the accounts business ones, most of those with
// two to eight mailboxes. It streams, so the writer's own memory does not
// count in a peak RSS measurement of the process.
func writeBigInventory(tb testing.TB, path string, n int) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	first := []string{"Jürgen", "Anna", "Sören", "Zoë", "Renée", "Łukasz", "Ayşe", "Thomas", "Stefanie", "Björn"}
	last := []string{"Müller", "Schmidt", "Weiß", "Schröder", "Wójcik", "Yılmaz", "Köhler", "Becker", "Fischer", "Hoffmann"}
	// The names as a mail address spells them.
	firstLocal := []string{"juergen", "anna", "soeren", "zoe", "renee", "lukasz", "ayse", "thomas", "stefanie", "bjoern"}
	lastLocal := []string{"mueller", "schmidt", "weiss", "schroeder", "wojcik", "yilmaz", "koehler", "becker", "fischer", "hoffmann"}
	roles := []string{"info", "buchhaltung", "vertrieb", "kontakt", "werkstatt", "office", "einkauf", "personal"}
	w.WriteString("\uFEFFcustomer_id;email;segment;product;opened;access;contact;phone\r\n")
	for acc, i := 0, 0; i < n; acc++ {
		size, biz := 1, rng.IntN(100) < 25
		if biz && rng.IntN(100) < 60 {
			size = 2 + rng.IntN(7)
		}
		fi, li := rng.IntN(len(first)), rng.IntN(len(last))
		phone := fmt.Sprintf("+49 %d %d", 30+rng.IntN(900), 100000+rng.IntN(9900000))
		seg, prod := "Residential", []string{"Home Basic", "Home Plus", "Home Premium"}[rng.IntN(3)]
		dom := []string{"isp.example", "mail.isp.example"}[rng.IntN(2)]
		if biz {
			seg, prod = "Business", []string{"Business Mail Pro", "Business Mail Basic", "Office Mail 50"}[rng.IntN(3)]
			dom = fmt.Sprintf("firma-%d.example", acc)
		}
		for k := 0; k < size && i < n; k++ {
			box := fmt.Sprintf("%s.%s%d@%s", firstLocal[fi], lastLocal[li], acc, dom)
			if biz && k > 0 {
				box = roles[(k-1)%len(roles)] + "@" + dom
			}
			fmt.Fprintf(w, "%08d;%s;%s;%s;%02d.%02d.%d;%s;%s %s;%s\r\n", 420+acc, box, seg, prod,
				1+rng.IntN(28), 1+rng.IntN(12), 2000+rng.IntN(25), []string{"imap", "webmail", "pop3"}[rng.IntN(3)],
				first[fi], last[li], phone)
			i++
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkDryRun1M runs impact scan --dry-run on a generated inventory of
// 1,000,000 rows. Reported: peak-MiB, the highest Go runtime footprint;
// live-MiB, the highest live heap; inventory-MiB, the file's size. The
// target is a peak RSS under 256 MiB; for the process's peak RSS run the
// test binary under /usr/bin/time -v:
//
//	go test -c -o /tmp/impact.test ./cmd/impact
//	/usr/bin/time -v /tmp/impact.test -test.run '^$' -test.bench BenchmarkDryRun1M -test.benchtime 1x
func BenchmarkDryRun1M(b *testing.B) {
	dir := b.TempDir()
	inv := filepath.Join(dir, "accounts.csv")
	writeBigInventory(b, inv, 1_000_000)
	runtime.GC()
	debug.FreeOSMemory()
	args := []string{"scan", "--dry-run", "--inventory", inv, "--server", "imap.example.net:993",
		"--cutoff", "2024-06-02T08:00:00Z", "--auth", "master", "--master-user", "ops", "--results", filepath.Join(dir, "scan.jsonl")}
	benchPeak(b, args...)
	st, _ := os.Stat(inv)
	b.ReportMetric(float64(st.Size())/(1<<20), "inventory-MiB")
}

// BenchmarkDemo100k runs impact demo with 100,000 mailboxes and 16 workers:
// the incident, its in-process IMAP server, the scan and the workbook, in
// one process (about two minutes: the demo scans at 1,000 logins/s).
// Reported as BenchmarkDryRun1M; the target is a peak RSS under 256 MiB:
//
//	go test -c -o /tmp/impact.test ./cmd/impact
//	/usr/bin/time -v /tmp/impact.test -test.run '^$' -test.bench BenchmarkDemo100k -test.benchtime 1x
func BenchmarkDemo100k(b *testing.B) {
	out := filepath.Join(b.TempDir(), "demo")
	benchPeak(b, "demo", "--out", out, "--mailboxes", "100000", "--workers", "16")
}

// benchPeak runs impact with args b.N times and reports the peak and live
// heap while it ran.
func benchPeak(b *testing.B, args ...string) {
	b.Helper()
	p := peakmem.Start()
	b.ResetTimer()
	for b.Loop() {
		if code, stderr := runImpact(b, "", args...); code != exitOK {
			b.Fatalf("exit %d\n%s", code, stderr)
		}
	}
	total, live := p.Stop()
	b.ReportMetric(float64(total)/(1<<20), "peak-MiB")
	b.ReportMetric(float64(live)/(1<<20), "live-MiB")
}
