package export

import (
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

var csvFiles = []string{"summary.csv", "priority.csv", "business.csv", "residential.csv", "unknown-type.csv",
	"multi-mailbox.csv", "lookup.csv", "queue-1.csv", "queue-2.csv", "mailboxes.csv", "probe-errors.csv"}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

func TestCSV(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "csv")
	recs := fixtureRecords()
	recordOf(recs, "carol@acme.example").DurationMS = -7 // a negative number stays a number
	r := reportOf(recs)
	paths, err := WriteCSV(dir, r, Options{Queues: 2})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", p, fi.Mode().Perm(), err)
		}
	}
	if !slices.Equal(names, csvFiles) {
		t.Fatalf("files %q, want %q", names, csvFiles)
	}
	assertOnly(t, dir, slices.Clone(csvFiles)...)
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}

	// Each CSV holds what its sheet holds, with text neutralised and
	// instants in RFC 3339.
	_, f := writeFixture(t, r, Options{Queues: 2})
	for _, name := range csvFiles[1:] {
		sheet := f.GetSheetList()[slices.Index(csvFiles, name)]
		rows, err := f.GetRows(sheet, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		got := readCSV(t, filepath.Join(dir, name))
		if len(got) != len(rows) {
			t.Fatalf("%s: %d records, sheet %s has %d rows", name, len(got), sheet, len(rows))
		}
		for i := range rows {
			want := padded(rows[i], len(got[0]))
			for c := range want {
				if i > 0 && dateColumns[got[0][c]] {
					continue // date serials in the sheet; checked below
				}
				typ, _ := f.GetCellType(sheet, cellName(c, i))
				if i > 0 && typ != excelize.CellTypeUnset { // text, not a number
					want[c] = neutralise(want[c])
				}
				if got[i][c] != want[c] {
					t.Errorf("%s record %d field %d = %q, want %q", name, i+1, c+1, got[i][c], want[c])
				}
			}
		}
	}
	mb := readCSV(t, filepath.Join(dir, "mailboxes.csv"))
	tests := []struct {
		row, col int
		want     string
	}{
		{1, 17, "'" + hostileContact},        // anna's contact
		{1, 8, "'=1+2 Authorization failed"}, // server text
		{1, 20, "2026-11-29T11:05:00+01:00"}, // probed at, in CET
		{1, 16, "2019-03-01"},                // created: a day
		{2, 11, "2026-11-29T07:30:00+01:00"}, // oldest
		{2, 14, "'=Parent, @Archive: NO [SERVERBUG] internal error"},
		{3, 9, "1234567"},                    // a count: no separators
		{3, 21, "-7"},                        // a negative number is not prefixed
		{4, 18, "'@phone"},                   // text that starts with @
		{6, 9, ""},                           // unknown count: empty
		{7, 11, "1899-12-31T23:00:00+01:00"}, // before Excel's epoch: still an instant
	}
	for _, tt := range tests {
		if got := mb[tt.row][tt.col]; got != tt.want {
			t.Errorf("mailboxes.csv record %d field %d (%s) = %q, want %q", tt.row+1, tt.col+1, mb[0][tt.col], got, tt.want)
		}
	}
	sum := readCSV(t, filepath.Join(dir, "summary.csv"))
	figures := map[string]string{}
	for _, r := range sum[1:] {
		figures[r[0]] = r[1]
	}
	for fig, want := range map[string]string{
		"Greeting":          "'=* OK [CAPABILITY IMAP4rev1] Dovecot ready.",
		"Impacted accounts": "3",
		"Cutoff":            "2026-11-29T04:00:00+01:00",
		"Accounts by customer type and worst impact: business, login_failed": "1",
		"Mailboxes by customer type and impact: residential, probe_error":    "1",
		"Call queues: Queue 1, affected mailboxes":                           "2",
		"Largest affected business accounts: B100":                           "2",
	} {
		if got, ok := figures[fig]; !ok || got != want {
			t.Errorf("summary.csv %q = %q, want %q", fig, got, want)
		}
	}
	// RFC 4180: CRLF line ends; a field with a comma or quote is quoted.
	raw, _ := os.ReadFile(filepath.Join(dir, "priority.csv"))
	if !strings.HasPrefix(string(raw), "Rank,Account,") || !strings.Contains(string(raw), "\r\n") ||
		!strings.Contains(string(raw), `"'=HYPERLINK(""http://evil"",""x""); Carol Office"`) {
		t.Errorf("priority.csv is not RFC 4180 as expected:\n%s", raw)
	}
}

var dateColumns = map[string]bool{"Oldest": true, "Newest": true, "Created": true, "Probed at": true, "Called at": true}

// cellName is the name of 0-based (col, row).
func cellName(col, row int) string {
	n, _ := excelize.CoordinatesToCellName(col+1, row+1)
	return n
}

func TestCSVFailureLeavesNothing(t *testing.T) {
	for _, after := range []int{0, 500, 5000} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "priority.csv"), []byte("earlier"), 0o600); err != nil {
			t.Fatal(err)
		}
		budget := after
		_, err := writeCSV(dir, fixture(), Options{}, func(w io.Writer) io.Writer {
			f := &failAfter{w: w, n: budget}
			budget = 0 // later files fail at once
			return f
		})
		if !errors.Is(err, errInjected) {
			t.Fatalf("after %d bytes: error %v, want the injected one", after, err)
		}
		assertOnly(t, dir, "priority.csv")
		if b, _ := os.ReadFile(filepath.Join(dir, "priority.csv")); string(b) != "earlier" {
			t.Errorf("earlier priority.csv became %q", b)
		}
	}
	// A directory where a file should go is refused before anything is
	// written.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "lookup.csv"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteCSV(dir, fixture(), Options{}); err == nil || !strings.Contains(err.Error(), "lookup.csv is a directory") {
		t.Errorf("error %v", err)
	}
	assertOnly(t, dir, "lookup.csv")
	if _, err := WriteCSV(dir, nil, Options{}); err == nil {
		t.Error("nil report: no error")
	}
}

// TestCSVStaleQueues: queue files of an earlier run with more queues go.
func TestCSVStaleQueues(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteCSV(dir, fixture(), Options{Queues: 2}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.csv"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteCSV(dir, fixture(), Options{}); err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(csvFiles), func(s string) bool { return strings.HasPrefix(s, "queue-") })
	assertOnly(t, dir, append(want, "notes.csv")...)
}
