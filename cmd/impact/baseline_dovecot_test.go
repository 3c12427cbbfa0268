package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/dovecottest"
	"github.com/impact-ops/impact/internal/results"
)

// baselineRun runs impact scan against srv with extra flags into a fresh
// results file and returns its records.
func baselineRun(t *testing.T, srv *dovecottest.Server, inv, resultsPath string, cutoff time.Time, extra ...string) (map[string]*results.Mailbox, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		if k == "IMPACT_MASTER_PASSWORD" {
			return srv.MasterPassword
		}
		return ""
	}}
	args := append([]string{"scan", "--inventory", inv, "--server", srv.Addr, "--tls", "none",
		"--cutoff", cutoff.Format(time.RFC3339), "--auth", "master", "--master-user", srv.MasterUser,
		"--results", resultsPath, "--workers", "4", "--fresh"}, extra...)
	code := runMain(context.Background(), e, args)
	if code != exitOK && code != exitIncomplete {
		t.Fatalf("scan exit %d\n%s", code, stderr.String())
	}
	set, err := results.Load(resultsPath)
	if err != nil {
		t.Fatal(err)
	}
	return set.Mailboxes, stderr.String()
}

// oldMessages are n read messages from days before the cutoff, one a day.
func oldMessages(cutoff time.Time, n int) []dovecottest.Message {
	var m []dovecottest.Message
	for i := range n {
		m = append(m, dovecottest.Message{Date: cutoff.Add(-time.Duration(i+3) * 24 * time.Hour), Flags: "S"})
	}
	return m
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

type baselineWant struct {
	impact   results.Impact
	missing  int64   // -1: no baseline check expected
	share    float64 // share missing
	mismatch bool
	basis    string
	gone     string // a folder expected gone, "" for none
}

func checkBaseline(t *testing.T, step string, recs map[string]*results.Mailbox, want map[string]baselineWant) {
	t.Helper()
	for mb, w := range want {
		r := recs[mb]
		if r == nil {
			t.Errorf("%s: %s: no record", step, mb)
			continue
		}
		if r.Impact != w.impact {
			t.Errorf("%s: %s: impact %s (%s), want %s", step, mb, r.Impact, r.Evidence, w.impact)
		}
		if r.DateMismatch != w.mismatch || (w.basis != "" && r.DateBasis != w.basis) {
			t.Errorf("%s: %s: date_mismatch %v basis %q, want %v %q (%s)", step, mb, r.DateMismatch, r.DateBasis, w.mismatch, w.basis, r.Evidence)
		}
		if w.missing < 0 {
			if r.Baseline != nil {
				t.Errorf("%s: %s: baseline check %+v, want none", step, mb, r.Baseline)
			}
			continue
		}
		if r.Baseline == nil {
			t.Errorf("%s: %s: no baseline check (%s)", step, mb, r.Evidence)
			continue
		}
		if r.Baseline.Missing != w.missing || r.Baseline.Share != w.share {
			t.Errorf("%s: %s: missing %d share %v, want %d %v (%s)", step, mb, r.Baseline.Missing, r.Baseline.Share, w.missing, w.share, r.Evidence)
		}
		if w.gone != "" {
			found := false
			for _, fl := range r.Baseline.Folders {
				found = found || (fl.Name == w.gone && fl.Gone)
			}
			if !found {
				t.Errorf("%s: %s: folder %s not reported gone: %+v", step, mb, w.gone, r.Baseline.Folders)
			}
		}
	}
}

// A baseline manifest plus scans of a real Dovecot while restoration goes
// on: exact missing counts, partially_restored, ok, tolerance, date
// mismatch, mailboxes on one side only.
func TestBaselineManifestDovecot(t *testing.T) {
	cutoff := time.Date(2026, 11, 22, 8, 0, 0, 0, time.FixedZone("", 3600))
	old := func(n int) []dovecottest.Message { return oldMessages(cutoff, n) }
	newMsg := dovecottest.Message{Date: cutoff.Add(2 * time.Hour), Flags: "S"}
	// Restored with the restore time as INTERNALDATE, the Date header old.
	var restored []dovecottest.Message
	for i := range 8 {
		restored = append(restored, dovecottest.Message{Date: cutoff.Add(30 * time.Hour), HeaderDate: cutoff.Add(-time.Duration(i+10) * 24 * time.Hour), Flags: "S"})
	}
	fx := dovecottest.Fixture{Users: []dovecottest.User{
		{Name: "intact@isp.example", Password: "x", Folders: []dovecottest.Folder{
			{Name: "INBOX", Messages: append(old(3), newMsg)}, {Name: "Archive", Messages: old(2)}}},
		{Name: "wiped@isp.example", Password: "x", Folders: []dovecottest.Folder{{Name: "INBOX", Messages: []dovecottest.Message{newMsg}}}},
		{Name: "restore@isp.example", Password: "x", Folders: []dovecottest.Folder{{Name: "INBOX", Messages: []dovecottest.Message{newMsg}}}},
		{Name: "folders@isp.example", Password: "x", Folders: []dovecottest.Folder{{Name: "INBOX", Messages: old(2)}}},
		{Name: "deleter@isp.example", Password: "x", Folders: []dovecottest.Folder{{Name: "INBOX", Messages: old(48)}}},
		{Name: "dates@isp.example", Password: "x", Folders: []dovecottest.Folder{{Name: "INBOX", Messages: restored}}},
		{Name: "unlisted@isp.example", Password: "x", Folders: []dovecottest.Folder{{Name: "INBOX", Messages: old(1)}}},
	}}
	srv := dovecottest.Start(t, fx, dovecottest.NoPenalty(), dovecottest.AuthFailureDelay(0))
	dir := t.TempDir()
	inv := filepath.Join(dir, "accounts.csv")
	var b strings.Builder
	b.WriteString("customer_id,email,segment,opened,access\n")
	for i, u := range fx.Users {
		b.WriteString(strings.Join([]string{string(rune('1' + i)), u.Name, "Residential", "2015-05-12", "imap"}, ",") + "\n")
	}
	writeTestFile(t, inv, b.String())
	manifest := filepath.Join(dir, "backup.csv")
	writeTestFile(t, manifest, "Mailbox;Folder;Messages before cutoff;Bytes\n"+
		"intact@isp.example;INBOX;3;3000\n"+
		"intact@isp.example;Archive;2;2000\n"+
		"WIPED@ISP.EXAMPLE;INBOX;10;10000\n"+
		"restore@isp.example;INBOX;20;\n"+
		"folders@isp.example;INBOX;2;\n"+
		"folders@isp.example;Projects;7;\n"+
		"deleter@isp.example;INBOX;50;\n"+
		"dates@isp.example;INBOX;8;\n"+
		"ghost@isp.example;INBOX;4;\n")

	recs, out := baselineRun(t, srv, inv, filepath.Join(dir, "scan1.jsonl"), cutoff, "--baseline", manifest)
	checkBaseline(t, "scan 1", recs, map[string]baselineWant{
		"intact@isp.example":   {impact: results.ImpactOK, missing: 0, basis: "internaldate"},
		"wiped@isp.example":    {impact: results.ImpactMissingOldMail, missing: 10, share: 1},
		"restore@isp.example":  {impact: results.ImpactMissingOldMail, missing: 20, share: 1},
		"folders@isp.example":  {impact: results.ImpactPartiallyRestored, missing: 7, share: 7.0 / 9, gone: "Projects"},
		"deleter@isp.example":  {impact: results.ImpactOK, missing: 2, share: 2.0 / 50},
		"dates@isp.example":    {impact: results.ImpactOK, missing: 0, mismatch: true, basis: "date_header"},
		"unlisted@isp.example": {impact: results.ImpactOK, missing: -1},
	})
	if r := recs["dates@isp.example"]; r != nil {
		if r.BeforeCutoff == nil || *r.BeforeCutoff != 0 || r.SentBeforeCutoff == nil || *r.SentBeforeCutoff != 8 {
			t.Errorf("dates: before %v sent %v, want 0 and 8", r.BeforeCutoff, r.SentBeforeCutoff)
		}
		if !strings.Contains(r.Evidence, "date_mismatch") || !strings.Contains(r.Evidence, "Date header") {
			t.Errorf("dates: evidence %q does not say which date it used", r.Evidence)
		}
	}
	if r := recs["deleter@isp.example"]; r != nil && (r.Baseline == nil || r.Baseline.Tolerance != 5 || !strings.Contains(r.Evidence, "2 short, within the tolerance of 5")) {
		t.Errorf("deleter: %+v %s", r.Baseline, r.Evidence)
	}
	if r := recs["wiped@isp.example"]; r != nil && !strings.HasPrefix(r.Evidence, "baseline backup.csv:4:") {
		t.Errorf("wiped: evidence %q, want it to name the baseline row", r.Evidence)
	}
	for _, want := range []string{"ghost@isp.example", "unlisted@isp.example"} {
		if !strings.Contains(out, want) {
			t.Errorf("the scan's output does not list %s (one side of the baseline only):\n%s", want, out)
		}
	}

	// Part of restore@'s old mail is put back: partially_restored, with
	// the exact shortfall; then the rest: ok.
	srv.AddMessages("restore@isp.example", "INBOX", old(12)...)
	recs, _ = baselineRun(t, srv, inv, filepath.Join(dir, "scan2.jsonl"), cutoff, "--baseline", manifest)
	checkBaseline(t, "scan 2", recs, map[string]baselineWant{
		"restore@isp.example": {impact: results.ImpactPartiallyRestored, missing: 8, share: 8.0 / 20},
		"wiped@isp.example":   {impact: results.ImpactMissingOldMail, missing: 10, share: 1},
	})
	srv.AddMessages("restore@isp.example", "INBOX", old(8)...)
	recs, _ = baselineRun(t, srv, inv, filepath.Join(dir, "scan3.jsonl"), cutoff, "--baseline", manifest)
	checkBaseline(t, "scan 3", recs, map[string]baselineWant{
		"restore@isp.example": {impact: results.ImpactOK, missing: 0},
	})

	// A tighter tolerance turns deleter@ (2 of 50 short) into a finding;
	// impact report decides again without a rescan.
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	code := runMain(context.Background(), e, []string{"report", "--results", filepath.Join(dir, "scan3.jsonl"),
		"--report", filepath.Join(dir, "tight.xlsx"), "--baseline", manifest, "--baseline-tolerance", "0"})
	if code != exitOK && code != exitIncomplete {
		t.Fatalf("report exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "partially_restored") {
		t.Errorf("report with tolerance 0 shows no partially_restored:\n%s", stderr.String())
	}
}
