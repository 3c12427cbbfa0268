package export

import (
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestLibreOfficeReadsWorkbook opens the workbook in a real spreadsheet
// program: LibreOffice headless (Debian package libreoffice-calc-nogui)
// converts every sheet to CSV, and the content must be what was written.
// Skipped when soffice is not installed, unless CI is set.
func TestLibreOfficeReadsWorkbook(t *testing.T) {
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("soffice not found; CI must install libreoffice-calc-nogui")
		}
		t.Skip("soffice not found (apt-get install libreoffice-calc-nogui)")
	}
	dir := t.TempDir()
	book := filepath.Join(dir, "impact.xlsx")
	if err := WriteWorkbook(book, fixture(), Options{Queues: 2}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out := filepath.Join(dir, "out")
	// Filter options: comma, double quote, UTF-8, from line 1, ..., cell
	// contents as shown (token 9), and -1: every sheet to its own file
	// (LibreOffice 7.2+).
	cmd := exec.CommandContext(ctx, soffice,
		"-env:UserInstallation=file://"+filepath.Join(dir, "profile"),
		"--headless", "--norestore",
		"--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1",
		"--outdir", out, book)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, b)
	}
	read := func(sheet string) [][]string {
		t.Helper()
		f, err := os.Open(filepath.Join(out, "impact-"+sheet+".csv"))
		if err != nil {
			entries, _ := os.ReadDir(out)
			t.Fatalf("%v (converted: %v)", err, entries)
		}
		defer f.Close()
		r := csv.NewReader(f)
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	for _, sheet := range []string{"Summary", "Priority", "Business", "Residential", "Unknown type", "Multi-mailbox",
		"Lookup", "Queue 1", "Queue 2", "Mailboxes", "Probe errors"} {
		if recs := read(sheet); len(recs) == 0 {
			t.Errorf("%s: empty", sheet)
		}
	}
	prio := read("Priority")
	if !slices.Equal(prio[0], priorityHeader) || len(prio) != 4 {
		t.Fatalf("Priority as LibreOffice reads it: %q", prio)
	}
	// The hostile contact is text to LibreOffice too: shown, not run.
	if got := prio[1][10]; got != hostileContact+"; Carol Office" {
		t.Errorf("Priority contact %q", got)
	}
	if got := []string{prio[1][0], prio[2][0], prio[3][0], prio[1][1], prio[2][1], prio[3][1]}; !slices.Equal(got, []string{"1", "2", "3", "B100", "U300", "R200"}) {
		t.Errorf("ranking as LibreOffice reads it: %q", got)
	}
	mb := read("Mailboxes")
	// bob: counts, a date in CET, the hostile folder names as text.
	bob := mb[2]
	if bob[0] != "bob@acme.example" || bob[9] != "0" || bob[10] != "12" || bob[11] != "2026-11-29 07:30" ||
		bob[14] != "=Parent, @Archive: NO [SERVERBUG] internal error" {
		t.Errorf("bob as LibreOffice reads it: %q", bob)
	}
	if got := mb[3][9]; got != "1,234,567" {
		t.Errorf("carol's count shown %q, want 1,234,567", got)
	}
	q1 := read("Queue 1")
	if q1[0][11] != "Outcome" || q1[1][11] != "Not called" {
		t.Errorf("Queue 1 outcome column: %q / %q", q1[0][11], q1[1][11])
	}
	sum := read("Summary")
	found := false
	for _, r := range sum {
		if len(r) > 1 && r[0] == "Impacted accounts" && r[1] == "3" {
			found = true
		}
	}
	if !found {
		t.Errorf("Summary as LibreOffice reads it lacks Impacted accounts = 3: %q", sum)
	}
}
