package inventory

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// xlsxCell is a cell to write: a value for SetCellValue and an optional
// number format (built-in ID or custom code).
type xlsxCell struct {
	value  any
	numFmt int
	custom string
}

// writeXLSX writes a workbook with the given sheets (name -> rows of cells;
// a nil row stays empty) and returns its path.
func writeXLSX(t *testing.T, date1904 bool, sheets map[string][][]xlsxCell, order ...string) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if date1904 {
		if err := f.SetWorkbookProps(&excelize.WorkbookPropsOptions{Date1904: &date1904}); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range order {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				t.Fatal(err)
			}
		} else if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		for r, row := range sheets[name] {
			for c, cell := range row {
				if cell.value == nil {
					continue
				}
				ref, _ := excelize.CoordinatesToCellName(c+1, r+1)
				if err := f.SetCellValue(name, ref, cell.value); err != nil {
					t.Fatal(err)
				}
				if cell.numFmt == 0 && cell.custom == "" {
					continue
				}
				st := &excelize.Style{NumFmt: cell.numFmt}
				if cell.custom != "" {
					st.CustomNumFmt = &cell.custom
				}
				id, err := f.NewStyle(st)
				if err != nil {
					t.Fatal(err)
				}
				if err := f.SetCellStyle(name, ref, ref, id); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	p := filepath.Join(t.TempDir(), "inv.xlsx")
	if err := f.SaveAs(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func row(values ...any) []xlsxCell {
	out := make([]xlsxCell, len(values))
	for i, v := range values {
		if c, ok := v.(xlsxCell); ok {
			out[i] = c
		} else {
			out[i] = xlsxCell{value: v}
		}
	}
	return out
}

func TestReadXLSX(t *testing.T) {
	jan3 := time.Date(2019, 1, 3, 0, 0, 0, 0, time.UTC)
	accounts := [][]xlsxCell{
		nil, // the header is the first non-empty row
		row("Email", "Account", "Created", "Segment", "Notes"),
		row(" Ann@Example.NET ", xlsxCell{value: 420, custom: "00000"}, jan3, "Business"),
		row("bob@example.net", "00420", "2019-01-04", "Residential", "n/a"),
		nil,
		row("carl@example.net", 1234567890123456789, xlsxCell{value: 43468.5, numFmt: 22}),
		row("jane doe@example.net", "7"),
		row("dan@example.net", "8", "03/04/2019"),
		row("eve@example.net", "9", 43468),
		row("ANN@example.net", "0420", jan3),
		row("fay@example.net", "10", xlsxCell{value: 43468.5, numFmt: 22}),
	}
	for _, date1904 := range []bool{false, true} {
		path := writeXLSX(t, date1904, map[string][][]xlsxCell{"Accounts": accounts, "Other": {row("Login")}}, "Accounts", "Other")

		// Why created cells are read raw: excelize displays the default
		// date format as an ambiguous "01-03-19".
		f, err := excelize.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		shown, _ := f.GetCellValue("Accounts", "C3")
		rawValue, _ := f.GetCellValue("Accounts", "C3", excelize.Options{RawCellValue: true})
		f.Close()
		if wantRaw := map[bool]string{false: "43468", true: "42006"}[date1904]; shown != "01-03-19" || rawValue != wantRaw {
			t.Errorf("1904=%v date cell shows %q, raw %q; want \"01-03-19\", %q", date1904, shown, rawValue, wantRaw)
		}

		inv, err := Read(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"Ann@example.net|00420|Business||2019-01-03T00:00:00Z|||||inv.xlsx:3",
			"bob@example.net|00420|Residential||2019-01-04T00:00:00Z|||||inv.xlsx:4",
			"fay@example.net|10|||2019-01-03T12:00:00Z|||||inv.xlsx:11",
		}
		if date1904 {
			// The same serial number counts from 1904-01-01; excelize
			// converted the time.Time cells (rows 3 and 10) accordingly.
			want[2] = "fay@example.net|10|||2023-01-04T12:00:00Z|||||inv.xlsx:11"
		}
		if got := briefs(inv.Entries); !slices.Equal(got, want) {
			t.Errorf("1904=%v entries\n got %q\nwant %q", date1904, got, want)
		}
		wantRejected := []string{
			`inv.xlsx:6: B (Account): expected an account number, got "1.23456789012346E+18": the spreadsheet stored it as a number and dropped digits; format the column as Text and enter the numbers again`,
			`inv.xlsx:7: A (Email): expected a mailbox such as user@example.net, got "jane doe@example.net" (contains a space)`,
			`inv.xlsx:8: C (Created): expected a date as YYYY-MM-DD, YYYY/MM/DD, DD.MM.YYYY, YYYY-MM-DD HH:MM[:SS] or RFC 3339 (2019-01-31T08:30:00+01:00), got "03/04/2019" (day and month cannot be told apart)`,
			`inv.xlsx:9: C (Created): expected a date as YYYY-MM-DD, YYYY/MM/DD, DD.MM.YYYY, YYYY-MM-DD HH:MM[:SS] or RFC 3339 (2019-01-31T08:30:00+01:00), got "43468"`,
		}
		if got := errStrings(inv.Rejected); !slices.Equal(got, wantRejected) {
			t.Errorf("1904=%v rejected\n got %q\nwant %q", date1904, got, wantRejected)
		}
		wantDup := []Duplicate{{Mailbox: "Ann@example.net", Source: "inv.xlsx:3", Duplicate: "inv.xlsx:10",
			Conflict: "account_id 00420 vs 0420; customer_type Business vs \"\""}}
		if !slices.Equal(inv.Duplicates, wantDup) {
			t.Errorf("duplicates %+v, want %+v", inv.Duplicates, wantDup)
		}
		if inv.Sheet != "Accounts" || inv.Columns[FieldAccountID] != "Account" || !slices.Equal(inv.Ignored, []string{"Notes"}) {
			t.Errorf("Sheet %q Columns %q Ignored %q", inv.Sheet, inv.Columns, inv.Ignored)
		}
	}
}

func TestReadXLSXSheets(t *testing.T) {
	path := writeXLSX(t, false, map[string][][]xlsxCell{
		"Accounts": {row("Name"), row("Ann")},
		"Other":    {row("Login", "Password"), row("zed", " pw1"), row("yan", nil)},
		"Dup":      {row("Email", "Name", "Login")},
		"Empty":    {},
	}, "Accounts", "Other", "Dup", "Empty")
	tests := []struct {
		name     string
		opts     Options
		want     []string
		rejected []string
		err      string
	}{
		{name: "first sheet has no mailbox column", err: `inv.xlsx:1: no mailbox column: the header row has "Name"; name the mailbox column one of: email, e-mail, mailbox, login, username, user, address`},
		{name: "named sheet, any case", opts: Options{Sheet: "other"}, want: []string{"zed|zed||||||||inv.xlsx:2", "yan|yan||||||||inv.xlsx:3"}},
		{
			name: "password needed", opts: Options{Sheet: "Other", NeedPassword: true},
			want:     []string{"zed|zed||||||| pw1|inv.xlsx:2"},
			rejected: []string{"inv.xlsx:3: B (Password): expected the mailbox's password (password authentication), got an empty cell"},
		},
		{name: "unknown sheet", opts: Options{Sheet: "Nope"}, err: `read inventory inv.xlsx: no sheet "Nope": the workbook has "Accounts", "Other", "Dup", "Empty"`},
		{name: "two mailbox columns", opts: Options{Sheet: "Dup"}, err: `inv.xlsx:1: columns A (Email) and C (Login) both give the mailbox; keep one and rename or delete the other`},
		{name: "empty sheet", opts: Options{Sheet: "Empty"}, err: `inv.xlsx: no header row: sheet "Empty" is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Read(path, tt.opts)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := briefs(inv.Entries); !slices.Equal(got, tt.want) {
				t.Errorf("entries\n got %q\nwant %q", got, tt.want)
			}
			if got := errStrings(inv.Rejected); !slices.Equal(got, tt.rejected) {
				t.Errorf("rejected %q, want %q", got, tt.rejected)
			}
		})
	}
}
