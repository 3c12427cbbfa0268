package export

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// secretsOfFixture are the fixture's contact data and server texts: none
// may appear in a redacted copy. (Substrings without characters that XML
// or CSV would escape, so a plain search finds any copy.)
var secretsOfFixture = []string{
	"http://evil", "Carol Office", "Dave", // contact names
	"44 000 00 0", "@phone", // phones
	"Authorization failed", "Logged in", // login text
	"i/o timeout", "connection reset", // errors and earlier failures
	"SERVERBUG", "@Archive", "=Parent", // folder errors and the names that carry them
	"Dovecot ready", // greeting
}

func TestRedact(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shared.xlsx")
	opts := Options{Queues: 2, Redact: true}
	if err := WriteWorkbook(path, fixture(), opts); err != nil {
		t.Fatal(err)
	}
	csvDir := filepath.Join(dir, "csv")
	csvPaths, err := WriteCSV(csvDir, fixture(), opts)
	if err != nil {
		t.Fatal(err)
	}
	texts := zipParts(t, path)
	for _, p := range csvPaths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		texts[p] = string(b)
	}
	for name, body := range texts {
		for _, secret := range secretsOfFixture {
			if strings.Contains(body, secret) {
				t.Errorf("%s holds %q", name, secret)
			}
		}
	}
	// The same search finds them all in an unredacted copy: the test would
	// notice a secret that moved.
	full := filepath.Join(dir, "full.xlsx")
	if err := WriteWorkbook(full, fixture(), Options{Queues: 2}); err != nil {
		t.Fatal(err)
	}
	all := ""
	for _, body := range zipParts(t, full) {
		all += body
	}
	for _, secret := range secretsOfFixture {
		if !strings.Contains(all, secret) {
			t.Errorf("unredacted workbook lacks %q", secret)
		}
	}

	_, f := writeFixture(t, fixture(), opts)
	drop := func(header []string, cols ...string) []string {
		return slices.DeleteFunc(slices.Clone(header), func(h string) bool { return slices.Contains(cols, h) })
	}
	for sheet, want := range map[string][]string{
		"Priority":      drop(priorityHeader, "Contact", "Phone"),
		"Business":      drop(segmentHeader, "Contact", "Phone"),
		"Multi-mailbox": drop(multiHeader, "Contact", "Phone"),
		"Lookup":        drop(lookupHeader, "Contact", "Phone"),
		"Queue 1":       drop(queueHeader, "Contact", "Phone"),
		"Mailboxes":     drop(mailboxHeader, "Contact", "Phone", "Server text", "Error", "Folders not countable"),
		"Probe errors":  drop(probeErrorHeader, "Error", "Earlier failures"),
	} {
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rows[0], want) {
			t.Errorf("%s header %q\nwant %q", sheet, rows[0], want)
		}
	}
	// Evidence keeps its shape, without the server's words; the drop-down
	// still sits on the Outcome column, which moved left.
	checkCell(t, f, cellIs{"Lookup", "E6", "login refused: [AUTHORIZATIONFAILED] " + redactedText, "", "string"})
	checkCell(t, f, cellIs{"Lookup", "E7", "probe did not finish: " + redactedText, "", "string"})
	dvs, err := f.GetDataValidations("Queue 1")
	if err != nil || len(dvs) != 1 || dvs[0].Sqref != "J2:J2" {
		t.Errorf("redacted queue drop-down %+v (%v), want on J2:J2", dvs, err)
	}
	rows, _ := f.GetRows("Summary")
	if got := rows[findRow(t, rows, "Redacted")-1][1]; !strings.Contains(got, "no customer contacts") {
		t.Errorf("Summary does not say it is redacted: %q", got)
	}
}
