package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/dovecottest"
	"github.com/impact-ops/impact/internal/results"
)

// A scan's results as the baseline of the next, a folder recreated in
// between (new UIDVALIDITY), restoration between scans, and --previous.
func TestRecreatedAndProgressDovecot(t *testing.T) {
	cutoff := time.Date(2026, 11, 22, 8, 0, 0, 0, time.FixedZone("", 3600))
	old := func(n int) []dovecottest.Message { return oldMessages(cutoff, n) }
	newMsg := dovecottest.Message{Date: cutoff.Add(2 * time.Hour), Flags: "S"}
	fx := dovecottest.Fixture{Users: []dovecottest.User{
		{Name: "keep@isp.example", Password: "x", Folders: []dovecottest.Folder{{Name: "INBOX", Messages: old(3)}}},
		{Name: "recreate@isp.example", Password: "x", Folders: []dovecottest.Folder{
			{Name: "INBOX", Messages: old(2)}, {Name: "Work", Messages: old(2)}}},
		{Name: "wiped@isp.example", Password: "x", Folders: []dovecottest.Folder{{Name: "INBOX", Messages: []dovecottest.Message{newMsg}}}},
		{Name: "later@isp.example", Password: "x", Folders: []dovecottest.Folder{{Name: "INBOX", Messages: []dovecottest.Message{newMsg}}}},
		{Name: "breaks@isp.example", Password: "x", Folders: []dovecottest.Folder{{Name: "INBOX", Messages: old(2)}}},
		{Name: "fresh@isp.example", Password: "x", Folders: []dovecottest.Folder{{Name: "INBOX", Messages: []dovecottest.Message{newMsg}}}},
		// Restored with restore-time INTERNALDATEs, old Date headers.
		{Name: "restored@isp.example", Password: "x", Folders: []dovecottest.Folder{{Name: "INBOX", Messages: []dovecottest.Message{
			{Date: cutoff.Add(26 * time.Hour), HeaderDate: cutoff.Add(-40 * 24 * time.Hour)}, {Date: cutoff.Add(26 * time.Hour), HeaderDate: cutoff.Add(-41 * 24 * time.Hour)},
			{Date: cutoff.Add(26 * time.Hour), HeaderDate: cutoff.Add(-42 * 24 * time.Hour)}, {Date: cutoff.Add(26 * time.Hour), HeaderDate: cutoff.Add(-43 * 24 * time.Hour)},
			{Date: cutoff.Add(26 * time.Hour), HeaderDate: cutoff.Add(-44 * 24 * time.Hour)}, {Date: cutoff.Add(26 * time.Hour), HeaderDate: cutoff.Add(-5 * time.Hour)},
		}}}},
	}}
	srv := dovecottest.Start(t, fx, dovecottest.NoPenalty(), dovecottest.AuthFailureDelay(0))
	dir := t.TempDir()
	inv := filepath.Join(dir, "accounts.csv")
	// fresh@ has no opening date and no access: only the UIDVALIDITY heuristic says
	// it ever had old mail.
	writeTestFile(t, inv, "customer_id,email,segment,opened,access\n"+
		"1,keep@isp.example,Residential,2015-05-12,imap\n"+
		"2,recreate@isp.example,Business,2015-05-12,imap\n"+
		"3,wiped@isp.example,Residential,2015-05-12,imap\n"+
		"4,later@isp.example,Residential,2015-05-12,imap\n"+
		"5,breaks@isp.example,Business,2015-05-12,imap\n"+
		"6,fresh@isp.example,Residential,,\n"+
		"7,restored@isp.example,Residential,2015-05-12,imap\n")

	scanA := filepath.Join(dir, "a.jsonl")
	recsA, _ := baselineRun(t, srv, inv, scanA, cutoff)
	uvA := recsA["recreate@isp.example"].Folders[0].UIDValidity
	if uvA == nil {
		t.Fatalf("scan A recorded no UIDVALIDITY for recreate@: %+v", recsA["recreate@isp.example"].Folders)
	}

	// recreate@ and breaks@ lose their Maildir and get a new one (new
	// UIDVALIDITY: Dovecot takes the time it first indexes a Maildir, so
	// wait a second); later@'s old mail is restored.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Unix() <= int64(*uvA) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	for _, u := range []string{"recreate@isp.example", "breaks@isp.example"} {
		if err := os.RemoveAll(srv.MaildirPath(u)); err != nil {
			t.Fatal(err)
		}
		srv.AddMessages(u, "INBOX", newMsg)
	}
	srv.AddMessages("later@isp.example", "INBOX", old(4)...)

	csvDir := filepath.Join(dir, "csv")
	recsB, out := baselineRun(t, srv, inv, filepath.Join(dir, "b.jsonl"), cutoff, "--baseline", scanA, "--previous", scanA, "--csv", csvDir)
	rc := recsB["recreate@isp.example"]
	if rc.Impact != results.ImpactMissingOldMail || rc.Baseline == nil || rc.Baseline.Missing != 4 {
		t.Errorf("recreate@: %s %+v (%s), want missing_old_mail with 4 missing", rc.Impact, rc.Baseline, rc.Evidence)
	}
	if len(rc.Recreated) != 1 || rc.Recreated[0].Folder != "INBOX" || rc.Recreated[0].Evidence != "baseline" ||
		rc.Recreated[0].Baseline != *uvA || rc.Recreated[0].UIDValidity == *uvA {
		t.Errorf("recreate@: recreated %+v, want INBOX with baseline UIDVALIDITY %d and another now", rc.Recreated, *uvA)
	}
	gone := false
	for _, fl := range rc.Baseline.Folders {
		gone = gone || (fl.Name == "Work" && fl.Gone && fl.Missing == 2)
	}
	if !gone {
		t.Errorf("recreate@: Work not reported gone: %+v", rc.Baseline.Folders)
	}
	if k := recsB["keep@isp.example"]; k.Impact != results.ImpactOK || len(k.Recreated) != 0 {
		t.Errorf("keep@: %s recreated %+v (%s), want ok, none recreated", k.Impact, k.Recreated, k.Evidence)
	}

	wantProgress := map[string]string{
		"keep@isp.example":     "unchanged_ok",
		"recreate@isp.example": "newly_impacted",
		"breaks@isp.example":   "newly_impacted",
		"later@isp.example":    "recovered",
		"wiped@isp.example":    "still_impacted",
		"fresh@isp.example":    "unchanged_ok",
		"restored@isp.example": "unchanged_ok",
	}
	// Progress is a report's comparison: the Mailboxes sheet (here its
	// CSV) carries it per mailbox, the Progress sheet lists the changes.
	mailboxes := readCSVRows(t, filepath.Join(csvDir, "mailboxes.csv"))
	col := slices.Index(mailboxes[0], "Progress")
	if col < 0 {
		t.Fatalf("mailboxes.csv has no Progress column: %q", mailboxes[0])
	}
	got := map[string]string{}
	for _, row := range mailboxes[1:] {
		got[row[0]] = row[col]
	}
	for mb, want := range wantProgress {
		if got[mb] != want {
			t.Errorf("%s: progress %q, want %q (%s → %s)", mb, got[mb], want, recsA[mb].Impact, recsB[mb].Impact)
		}
	}
	var changes []string
	for _, row := range readCSVRows(t, filepath.Join(csvDir, "progress.csv"))[1:] {
		changes = append(changes, row[0]+" "+row[3])
	}
	if want := []string{"breaks@isp.example newly_impacted", "later@isp.example recovered", "recreate@isp.example newly_impacted"}; !slices.Equal(changes, want) {
		t.Errorf("Progress sheet %q, want %q", changes, want)
	}
	if !strings.Contains(out, "Progress:  1 recovered, 2 newly impacted, 1 still impacted, 3 unchanged ok, 0 not in the previous scan") {
		t.Errorf("progress summary missing:\n%s", out)
	}

	// Without a baseline: the heuristic sees folders created after the
	// cutoff. On this Dovecot every folder was first indexed after the
	// cutoff, so it flags keep@ too (ok, mail is there: the documented
	// false positive of restored or copied-in Maildirs).
	recsC, _ := baselineRun(t, srv, inv, filepath.Join(dir, "c.jsonl"), cutoff, "--uidvalidity-heuristic")
	f := recsC["fresh@isp.example"]
	if f.Impact != results.ImpactMissingOldMail || len(f.Recreated) != 1 || f.Recreated[0].Evidence != "uidvalidity" ||
		!strings.Contains(f.Evidence, "evidence: uidvalidity") {
		t.Errorf("fresh@ with the heuristic: %s %+v (%s), want missing_old_mail by uidvalidity", f.Impact, f.Recreated, f.Evidence)
	}
	if k := recsC["keep@isp.example"]; k.Impact != results.ImpactOK || len(k.Recreated) == 0 {
		t.Errorf("keep@ with the heuristic: %s %+v, want ok and flagged", k.Impact, k.Recreated)
	}
	recsD, _ := baselineRun(t, srv, inv, filepath.Join(dir, "d.jsonl"), cutoff)
	if f := recsD["fresh@isp.example"]; f.Impact != results.ImpactNoOldMail || len(f.Recreated) != 0 {
		t.Errorf("fresh@ without the heuristic: %s %+v, want no_old_mail", f.Impact, f.Recreated)
	}
	// Without a baseline, restored mail whose INTERNALDATE is the restore
	// time is not called missing: flagged, counted by Date header (the
	// message dated 5 hours before the cutoff falls on the cutoff's day,
	// which SENTBEFORE's whole days do not count).
	r := recsD["restored@isp.example"]
	if r.Impact != results.ImpactOK || !r.DateMismatch || r.DateBasis != "date_header" ||
		r.BeforeCutoff == nil || *r.BeforeCutoff != 0 || r.SentBeforeCutoff == nil || *r.SentBeforeCutoff != 5 ||
		!strings.HasPrefix(r.Evidence, "date_mismatch: 5 before the cutoff by Date header but 0 by INTERNALDATE") {
		t.Errorf("restored@: %s mismatch %v basis %q before %v sent %v (%s)", r.Impact, r.DateMismatch, r.DateBasis, r.BeforeCutoff, r.SentBeforeCutoff, r.Evidence)
	}

	// impact report --previous with two earlier scans, oldest first, gives
	// the same progress as the scan, against the latest.
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	code := runMain(context.Background(), e, []string{"report", "--results", filepath.Join(dir, "b.jsonl"),
		"--report", filepath.Join(dir, "b.xlsx"), "--baseline", scanA, "--previous", scanA, "--previous", scanA})
	if code != exitOK && code != exitIncomplete {
		t.Fatalf("report exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "1 recovered, 2 newly impacted") {
		t.Errorf("report progress:\n%s", stderr.String())
	}
}

func readCSVRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}
