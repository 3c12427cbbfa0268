package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/impact-ops/impact/internal/results"
)

// runImpact runs main with args; the master password comes from the
// environment as in production.
func runImpact(t testing.TB, password string, args ...string) (code int, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
		getenv: func(k string) string {
			if k == "IMPACT_MASTER_PASSWORD" {
				return password
			}
			return ""
		}}
	code = runMain(context.Background(), e, args)
	return code, errOut.String()
}

// workbookCells reads every cell of every sheet: the stored value and the
// value as shown, and the Summary's hyperlinks.
func workbookCells(t *testing.T, path string) (sheets []string, cells map[string][][]string) {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cells = map[string][][]string{}
	for _, sheet := range f.GetSheetList() {
		raw, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		shown, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		cells[sheet+" raw"], cells[sheet+" shown"] = raw, shown
		if sheet != "Summary" {
			continue
		}
		var links [][]string
		for r, row := range raw {
			for c := range row {
				name, _ := excelize.CoordinatesToCellName(c+1, r+1)
				if ok, target, _ := f.GetCellHyperLink(sheet, name); ok {
					links = append(links, []string{name, target})
				}
			}
		}
		cells["Summary links"] = links
	}
	return f.GetSheetList(), cells
}

// TestReportEqualsScan: impact report on a scan's results file writes the
// same workbook as the scan did: every cell of every sheet.
func TestReportEqualsScan(t *testing.T) {
	dir := t.TempDir()
	d := startDemo(t, dir, 120, 5, false)
	resultsFile, scanBook := filepath.Join(dir, "scan.jsonl"), filepath.Join(dir, "scan.xlsx")
	code, stderr := runImpact(t, d.inc.MasterPassword, d.scanArgs(resultsFile, "--report", scanBook)...)
	if code != exitOK {
		t.Fatalf("scan: exit %d\n%s", code, stderr)
	}
	scanSheets, scanCells := workbookCells(t, scanBook)
	queues := 0
	for _, s := range scanSheets {
		if strings.HasPrefix(s, "Queue ") {
			queues++
		}
	}
	reportBook := filepath.Join(dir, "report.xlsx")
	code, stderr = runImpact(t, "", "report", "--results", resultsFile, "--report", reportBook, "--queues", strconv.Itoa(queues))
	if code != exitOK {
		t.Fatalf("report: exit %d\n%s", code, stderr)
	}
	reportSheets, reportCells := workbookCells(t, reportBook)
	if !slices.Equal(scanSheets, reportSheets) {
		t.Fatalf("sheets differ:\nscan   %q\nreport %q", scanSheets, reportSheets)
	}
	for key, want := range scanCells {
		got := reportCells[key]
		if len(got) != len(want) {
			t.Errorf("%s: %d rows, the scan's has %d", key, len(got), len(want))
			continue
		}
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("%s row %d:\nreport %q\nscan   %q", key, i+1, got[i], want[i])
			}
		}
	}
	if rows := scanCells["Mailboxes raw"]; len(rows) != 121 {
		t.Errorf("scan workbook lists %d mailboxes, want 120", len(rows)-1)
	}
	if rows := scanCells["Priority raw"]; len(rows) < 10 {
		t.Errorf("only %d impacted accounts: the comparison proves little", len(rows)-1)
	}
}

// writeResults writes a results file of the given lines (records or raw
// strings).
func writeResults(t *testing.T, path string, lines ...any) {
	t.Helper()
	var b bytes.Buffer
	for _, l := range lines {
		if s, ok := l.(string); ok {
			b.WriteString(s)
			continue
		}
		j, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestStreamResultsMatchesLoad: reading results files one record at a time
// gives what results.Load gives: later records win, a torn last line is
// skipped with a warning, other damage is an error naming file:line.
func TestStreamResultsMatchesLoad(t *testing.T) {
	dir := t.TempDir()
	cut := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	scan := results.Scan{Kind: results.KindScan, Cutoff: cut, Mailboxes: 3, StartedAt: cut.Add(time.Hour),
		Target: results.Target{Server: "imap.example.net:993"}}
	mb := func(name, outcome string) *results.Mailbox {
		return &results.Mailbox{Kind: results.KindMailbox, Mailbox: name, AccountID: "A" + name[:1], Login: results.Login{Outcome: outcome}}
	}
	first, second := filepath.Join(dir, "1.jsonl"), filepath.Join(dir, "2.jsonl")
	writeResults(t, first, scan, mb("a@x", "failed"), mb("b@x", "error"),
		results.End{Kind: results.KindEnd, FinishedAt: cut.Add(2 * time.Hour)})
	resumed := scan
	resumed.Resumed = true
	writeResults(t, second, resumed, "\n", mb("b@x", "failed"), mb("c@x", "ok"),
		results.End{Kind: results.KindEnd, FinishedAt: cut.Add(3 * time.Hour), Complete: true},
		`{"kind":"mailbox","mailbox":"d@x","acc`)

	set, err := results.Load(first, second)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var scans, ends int
	var warnings []string
	err = results.Stream([]string{first, second},
		func(*results.Scan) error { scans++; return nil },
		func(m *results.Mailbox) error { got = append(got, m.Mailbox+" "+m.Login.Outcome); return nil },
		func(*results.End) { ends++ },
		func(w string) { warnings = append(warnings, w) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a@x failed", "b@x error", "b@x failed", "c@x ok"}
	if !slices.Equal(got, want) || scans != len(set.Scans) || ends != len(set.Ends) {
		t.Errorf("streamed %q, %d scans, %d ends; want %q, %d, %d", got, scans, ends, want, len(set.Scans), len(set.Ends))
	}
	if len(warnings) != 1 || len(set.Warnings) != 1 || !strings.Contains(warnings[0], "2.jsonl:6: ignored a torn last line") {
		t.Errorf("warnings %q (Load: %q)", warnings, set.Warnings)
	}

	// Through impact report: b@x's later record wins.
	book := filepath.Join(dir, "r.xlsx")
	csvDir := filepath.Join(dir, "csv")
	code, stderr := runImpact(t, "", "report", "--results", first, "--results", second, "--report", book, "--csv", csvDir, "--queues", "2")
	if code != exitOK || !strings.Contains(stderr, "warning: ") || !strings.Contains(stderr, "CSV:       11 files in "+csvDir) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	f, err := excelize.OpenFile(book)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, _ := f.GetRows("Mailboxes")
	var impacts []string
	for _, r := range rows[1:] {
		impacts = append(impacts, r[0]+" "+r[4])
	}
	if want := []string{"a@x login_failed", "b@x login_failed", "c@x no_old_mail"}; !slices.Equal(impacts, want) {
		t.Errorf("impacts %q, want %q", impacts, want)
	}

	bad := []struct {
		name  string
		lines []any
		want  string
	}{
		{"mailbox before header", []any{mb("a@x", "ok"), scan}, "bad.jsonl:1: mailbox record before the scan header"},
		{"mixed cutoffs", []any{scan, func() results.Scan { s := scan; s.Cutoff = cut.Add(time.Hour); return s }()}, "the results mix cutoffs"},
		{"broken middle line", []any{scan, "{not json\n", mb("a@x", "ok")}, "bad.jsonl:2: not a JSON record"},
		{"unknown kind", []any{scan, `{"kind":"other"}` + "\n"}, `bad.jsonl:2: unknown record kind "other"`},
		{"no mailbox name", []any{scan, `{"kind":"mailbox","mailbox":""}` + "\n"}, "bad.jsonl:2: mailbox record without a mailbox"},
		{"no header at all", []any{"\n"}, "no scan header"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "bad.jsonl")
			writeResults(t, file, tt.lines...)
			code, stderr := runImpact(t, "", "report", "--results", file, "--report", filepath.Join(t.TempDir(), "x.xlsx"))
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
}

// generateResults writes a results file of n mailboxes in about n/2
// accounts, as a scan of an incident writes it: logged-in mailboxes with
// three folders, failed logins, probe errors. Records are encoded one at a
// time, so generating takes no memory to speak of.
func generateResults(tb testing.TB, path string, n int) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	cut := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	start := cut.Add(26 * time.Hour)
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(enc.Encode(results.Scan{Kind: results.KindScan, Version: "bench", StartedAt: start, Cutoff: cut, Auth: "master",
		Mailboxes: n, Target: results.Target{Server: "imap.example.net:993", Host: "imap.example.net", TLS: "implicit"}}))
	p := func(v int64) *int64 { return &v }
	types := []string{"business", "business", "business", "", "residential", "residential", "residential", "residential", "residential", "residential"}
	var m results.Mailbox
	for acc, i := 0, 0; i < n; acc++ {
		size := min(1+acc%3, n-i)
		for range size {
			m = results.Mailbox{
				Kind: results.KindMailbox, Mailbox: fmt.Sprintf("user%07d@d%05d.example", i, acc%50000), AccountID: fmt.Sprintf("A%07d", acc),
				RawType: types[acc%10], Product: "Mail Standard", Access: "imap", Created: "2019-03-01",
				ContactName: fmt.Sprintf("Customer %d", acc), ContactPhone: fmt.Sprintf("+41 44 %03d %02d %02d", acc%1000, acc%100, acc%97),
				ProbedAt: start.Add(time.Duration(i) * 10 * time.Millisecond), DurationMS: int64(50 + i%400),
			}
			switch x := (i * 7919) % 100; {
			case x < 5: // login_failed
				m.Login = results.Login{Outcome: "failed", Code: "AUTHORIZATIONFAILED", Text: "Authorization failed", Method: "LOGIN", DurationMS: 2000}
			case x < 7: // probe_error
				m.Error = "login: i/o timeout"
				m.Attempts = []string{"connection reset by peer"}
			default: // ok, missing_old_mail (x < 27) or no_old_mail (pop3, x < 37)
				before := int64(0)
				if x >= 37 {
					before = int64(10 + i%5000)
				}
				if x >= 27 && x < 37 {
					m.Access = "pop3"
				}
				m.Login = results.Login{Outcome: "ok", Text: "Logged in", Method: "LOGIN", DurationMS: 15}
				newest := start.Add(-time.Hour)
				oldest := newest.Add(-24 * 365 * time.Hour)
				for k, name := range []string{"INBOX", "Sent", "Trash"} {
					b := int64(0)
					if k == 0 {
						b = before
					}
					m.Folders = append(m.Folders, results.Folder{Name: name, Countable: true, Messages: p(b + 2), BeforeCutoff: p(b), AfterCutoff: p(2),
						Oldest: &oldest, Newest: &newest})
				}
				m.BeforeCutoff, m.AfterCutoff, m.Oldest, m.Newest = p(before), p(6), &oldest, &newest
			}
			must(enc.Encode(&m))
			i++
		}
	}
	must(enc.Encode(results.End{Kind: results.KindEnd, FinishedAt: start.Add(3 * time.Hour), Complete: true, Probed: n}))
	must(w.Flush())
}

// BenchmarkReport1M runs the whole of impact report (read the results file,
// decide, rank, write the workbook with four queues) on a generated results
// file of 1,000,000 mailboxes. Reported: peak-MiB, the highest Go runtime
// footprint; live-MiB, the highest live heap; results-MiB and xlsx-MiB,
// file sizes. For the process's peak RSS run the test binary under
// /usr/bin/time -v:
//
//	go test -c -o /tmp/impact.test ./cmd/impact
//	/usr/bin/time -v /tmp/impact.test -test.run '^$' -test.bench BenchmarkReport1M -test.benchtime 1x
//
// Set IMPACT_BENCH_CSV=1 to write the CSV files as well.
func BenchmarkReport1M(b *testing.B) {
	dir := b.TempDir()
	resultsFile := filepath.Join(dir, "scan.jsonl")
	generateResults(b, resultsFile, 1_000_000)
	runtime.GC()
	book := filepath.Join(dir, "impact.xlsx")
	args := []string{"report", "--results", resultsFile, "--report", book, "--queues", "4"}
	if os.Getenv("IMPACT_BENCH_CSV") != "" {
		args = append(args, "--csv", filepath.Join(dir, "csv"))
	}
	benchPeak(b, args...)
	rs, _ := os.Stat(resultsFile)
	bs, _ := os.Stat(book)
	b.ReportMetric(float64(rs.Size())/(1<<20), "results-MiB")
	b.ReportMetric(float64(bs.Size())/(1<<20), "xlsx-MiB")
}
