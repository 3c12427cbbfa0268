package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/impact-ops/impact/internal/dovecottest"
	"github.com/impact-ops/impact/internal/results"
)

// The incident's shape on a real Dovecot: each kind of mailbox, with the
// inventory as billing exports it.
func TestScanDovecotEndToEnd(t *testing.T) {
	cutoff := time.Date(2026, 11, 22, 8, 0, 0, 0, time.FixedZone("", 3600))
	msg := func(d time.Duration) dovecottest.Message { return dovecottest.Message{Date: cutoff.Add(d), Flags: "S"} }
	fx := dovecottest.Fixture{Users: []dovecottest.User{
		{Name: "anna@isp.example", Password: "a", Folders: []dovecottest.Folder{
			{Name: "INBOX", Messages: []dovecottest.Message{msg(-48 * time.Hour), msg(-time.Second), msg(0)}},
			{Name: "Entwürfe", Messages: []dovecottest.Message{msg(-100 * time.Hour)}},
		}},
		{Name: "chef@mueller-bau.example", Password: "c", Folders: []dovecottest.Folder{
			{Name: "INBOX", Messages: []dovecottest.Message{msg(time.Hour)}},
		}},
		{Name: "buero@mueller-bau.example", Absent: true},
		{Name: "info@mueller-bau.example", Password: "i", Folders: []dovecottest.Folder{
			{Name: "INBOX", Messages: []dovecottest.Message{msg(-time.Hour), msg(time.Hour)}},
		}},
		{Name: "pop@isp.example", Password: "p", Folders: []dovecottest.Folder{
			{Name: "INBOX", Messages: []dovecottest.Message{msg(2 * time.Hour)}},
		}},
		{Name: "gone@isp.example", Absent: true},
	}}
	srv := dovecottest.Start(t, fx, dovecottest.NoPenalty(), dovecottest.AuthFailureDelay(0))
	dir := t.TempDir()
	inv := filepath.Join(dir, "accounts.csv")
	csv := "\ufeffcustomer_id;email;segment;product;opened;access;contact;phone\r\n" +
		"00420;chef@mueller-bau.example;Business;Business Mail Pro;01.03.2019;imap;Jürgen Müller;+49 30 1234\r\n" +
		"00420;buero@mueller-bau.example;Business;Business Mail Pro;01.03.2019;webmail;Jürgen Müller;+49 30 1234\r\n" +
		"00420;info@mueller-bau.example;Business;Business Mail Pro;01.03.2019;imap;Jürgen Müller;+49 30 1234\r\n" +
		"7;anna@isp.example;Residential;Home Basic;12.05.2015;imap;Anna A.;0171 1\r\n" +
		"8;pop@isp.example;Residential;Home Basic;12.05.2015;pop3;Paul P.;0171 2\r\n" +
		"9;gone@isp.example;;Home Basic;12.05.2015;imap;\"=HYPERLINK(\"\"http://x\"\",\"\"x\"\")\";0171 3\r\n"
	if err := os.WriteFile(inv, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	snap := map[string]dovecottest.Snapshot{}
	for _, u := range fx.Users {
		if !u.Absent {
			snap[u.Name] = dovecottest.SnapshotMaildir(t, srv.MaildirPath(u.Name))
		}
	}
	resultsPath, report := filepath.Join(dir, "scan.jsonl"), filepath.Join(dir, "impact.xlsx")
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		if k == "IMPACT_MASTER_PASSWORD" {
			return srv.MasterPassword
		}
		return ""
	}}
	code := runMain(context.Background(), e, []string{"scan", "--inventory", inv, "--server", srv.TLSAddr, "--tls", "implicit",
		"--ca-file", srv.CAFile, "--cutoff", cutoff.Format(time.RFC3339), "--auth", "master", "--master-user", srv.MasterUser,
		"--results", resultsPath, "--report", report, "--workers", "4"})
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	out := stderr.String()
	for _, want := range []string{"Target server:  " + srv.TLSAddr, "greeting:     OK", "SHA-256:", "verified", "Workbook:  " + report} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	set, err := results.Load(resultsPath)
	if err != nil {
		t.Fatal(err)
	}
	wantImpact := map[string]results.Impact{
		"anna@isp.example":          results.ImpactOK,
		"chef@mueller-bau.example":  results.ImpactMissingOldMail,
		"buero@mueller-bau.example": results.ImpactLoginFailed,
		"info@mueller-bau.example":  results.ImpactOK,
		"pop@isp.example":           results.ImpactNoOldMail,
		"gone@isp.example":          results.ImpactLoginFailed,
	}
	for mb, want := range wantImpact {
		r := set.Mailboxes[mb]
		if r == nil {
			t.Errorf("%s: no record", mb)
			continue
		}
		if r.Impact != want {
			t.Errorf("%s: impact %s (%s), want %s", mb, r.Impact, r.Evidence, want)
		}
	}
	if a := set.Mailboxes["anna@isp.example"]; a.BeforeCutoff == nil || *a.BeforeCutoff != 3 || *a.AfterCutoff != 1 {
		t.Errorf("anna counts %v/%v, want 3/1", a.BeforeCutoff, a.AfterCutoff)
	}
	if c := set.Mailboxes["chef@mueller-bau.example"]; c.AccountID != "00420" || !c.MultiMailbox || c.CustomerType != results.TypeBusiness {
		t.Errorf("chef: %+v", c)
	}
	if len(set.Scans) != 1 || set.Scans[0].Target.CertSHA256 == "" || !set.Scans[0].Target.Verified {
		t.Errorf("target not recorded: %+v", set.Scans)
	}

	rows := sheetRows(t, report, "Priority")
	// The business multi-mailbox account first, then the residential one.
	var ranked []string
	for _, r := range rows {
		for i, c := range r {
			if c == "00420" || c == "9" {
				ranked = append(ranked, c)
				_ = i
				break
			}
		}
	}
	if strings.Join(ranked, ",") != "00420,9" {
		t.Errorf("Priority accounts %v, want 00420 then 9\n%v", ranked, rows)
	}

	for name, s := range snap {
		if d := s.Diff(dovecottest.SnapshotMaildir(t, srv.MaildirPath(name))); len(d) > 0 {
			t.Errorf("%s changed by the scan: %v", name, d)
		}
	}

	// Rerun: everything has a verdict, nothing is probed again.
	stderr.Reset()
	code = runMain(context.Background(), e, []string{"scan", "--inventory", inv, "--server", srv.TLSAddr, "--tls", "implicit",
		"--ca-file", srv.CAFile, "--cutoff", cutoff.Format(time.RFC3339), "--auth", "master", "--master-user", srv.MasterUser,
		"--results", resultsPath, "--report", report})
	if code != exitOK || !strings.Contains(stderr.String(), "6 of 6 mailboxes already have a verdict, 0 to probe") {
		t.Errorf("resume: exit %d\n%s", code, stderr.String())
	}
}

// Dovecot's default authentication penalty, a few absent mailboxes among
// present ones: the scan says what is going on and what removes it, on
// screen, in the results and on the Summary sheet.
func TestScanDovecotPenaltyAdvice(t *testing.T) {
	cutoff := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	fx := dovecottest.GenerateFixture(48, 0.125, cutoff)
	srv := dovecottest.Start(t, fx)
	dir := t.TempDir()
	inv := usersInventory(t, dir, fx)
	res, book := filepath.Join(dir, "scan.jsonl"), filepath.Join(dir, "impact.xlsx")
	code, stderr := runImpact(t, srv.MasterPassword, "scan", "--inventory", inv, "--server", srv.Addr, "--tls", "none",
		"--cutoff", cutoff.Format(time.RFC3339), "--master-user", srv.MasterUser, "--results", res, "--report", book,
		"--workers", "8", "--max-connections", "16", "--rate", "1000")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"Dovecot's authentication penalty is slowing this scan", "anvil-auth-penalty", "login_trusted_networks", "Authentication penalty: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, stderr)
		}
	}
	if n := strings.Count(stderr, "is slowing this scan"); n != 1 {
		t.Errorf("advice printed %d times, want once", n)
	}
	if strings.Contains(stderr, "logins are being held") {
		t.Errorf("the penalty announced twice, as a log line and as the advice:\n%s", stderr)
	}
	set, err := results.Load(res)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Ends) != 1 || len(set.Ends[0].Advice) != 1 || set.Ends[0].PenaltyHeld == 0 {
		t.Fatalf("end record %+v", set.Ends)
	}
	rows := sheetRows(t, book, "Summary")
	found := map[string]bool{}
	for _, r := range rows {
		if len(r) >= 2 && (r[0] == "Advice" || r[0] == "Authentication penalty") {
			found[r[0]] = strings.Contains(r[1], "anvil")
		}
	}
	if !found["Advice"] || !found["Authentication penalty"] {
		t.Errorf("Summary lacks the penalty and its advice: %v", found)
	}
}

// Every login refused: more likely the wrong server or inventory than a
// whole platform lost. The scan says so on screen and on the Summary.
func TestScanDovecotNoLoginWarning(t *testing.T) {
	cutoff := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	fx := dovecottest.GenerateFixture(12, 1, cutoff)
	srv := dovecottest.Start(t, fx, dovecottest.NoPenalty(), dovecottest.AuthFailureDelay(0))
	dir := t.TempDir()
	inv := usersInventory(t, dir, fx)
	res, book := filepath.Join(dir, "scan.jsonl"), filepath.Join(dir, "impact.xlsx")
	code, stderr := runImpact(t, srv.MasterPassword, "scan", "--inventory", inv, "--server", srv.Addr, "--tls", "none",
		"--cutoff", cutoff.Format(time.RFC3339), "--master-user", srv.MasterUser, "--results", res, "--report", book)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if want := "warning: no login succeeded: all 12 logins of this run were refused"; !strings.Contains(stderr, want) {
		t.Errorf("output lacks %q:\n%s", want, stderr)
	}
	rows := sheetRows(t, book, "Summary")
	found := false
	for _, r := range rows {
		found = found || len(r) >= 2 && r[0] == "Advice" && strings.Contains(r[1], "no login succeeded")
	}
	if !found {
		t.Error("Summary lacks the no-login advice")
	}
}

// usersInventory writes an inventory of fx's users (a mailbox column only)
// into dir and returns its path.
func usersInventory(t *testing.T, dir string, fx dovecottest.Fixture) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("email\n")
	for _, u := range fx.Users {
		b.WriteString(u.Name + "\n")
	}
	inv := filepath.Join(dir, "accounts.csv")
	writeTestFile(t, inv, b.String())
	return inv
}

// sheetRows reads the rows of one sheet of the workbook at path.
func sheetRows(t *testing.T, path, sheet string) [][]string {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
