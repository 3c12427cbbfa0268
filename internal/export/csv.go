package export

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/impact-ops/impact/internal/results"
)

// WriteCSV writes the workbook's sheets as CSV files into dir (created
// 0700 if missing), one file per sheet: summary.csv, priority.csv,
// business.csv, residential.csv, unknown-type.csv, multi-mailbox.csv,
// lookup.csv, queue-1.csv ... queue-N.csv, mailboxes.csv, probe-errors.csv.
// It returns their paths in that order.
//
// Format (RFC 4180): UTF-8 without a byte order mark, a header row, fields
// quoted when needed, CRLF line ends. Counts are plain integers; instants
// are RFC 3339 in the report's time zone ("2026-11-29T11:05:00+01:00"),
// days YYYY-MM-DD; an unknown value is an empty field. A text that starts
// with '=', '+', '-', '@', tab or carriage return is prefixed with a single
// quote so that a spreadsheet opening the file does not run it as a
// formula (OWASP, CSV injection); numbers are never prefixed. CSV files
// are not split at the xlsx row limit.
//
// The files are created 0600 and written as a set: each goes to a
// temporary file in dir, and only when all are complete are they renamed
// over their targets, so a failure leaves no partial file and no earlier
// file changed. Queue files of an earlier run with more queues
// (queue-K.csv for K > N) are removed, so the set on disk matches this
// report.
func WriteCSV(dir string, r *Report, opts Options) ([]string, error) {
	return writeCSV(dir, r, opts, nil)
}

// writeCSV is WriteCSV with sink wrapping each file's writer (tests inject
// errors with it).
func writeCSV(dir string, r *Report, opts Options, sink func(io.Writer) io.Writer) (paths []string, err error) {
	if r == nil {
		return nil, fmt.Errorf("csv %s: no report", dir)
	}
	if err := opts.check("csv " + dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("csv: %w", err)
	}
	v := newView(r, opts)
	tables := append([]table{v.summaryTable()}, v.tables()...)
	// A directory in a target's place would fail its rename after others
	// were renamed: refuse before writing anything.
	for _, t := range tables {
		if fi, err := os.Lstat(filepath.Join(dir, t.file)); err == nil && fi.IsDir() {
			return nil, fmt.Errorf("csv %s: %s is a directory", dir, t.file)
		}
	}
	var tmps []string
	defer func() {
		if err != nil {
			for _, tmp := range tmps {
				_ = os.Remove(tmp)
			}
		}
	}()
	for _, t := range tables {
		// os.CreateTemp opens with mode 0600: the files hold contacts.
		f, err := os.CreateTemp(dir, "."+t.file+".*.tmp")
		if err != nil {
			return nil, fmt.Errorf("csv %s: create temporary file: %w", dir, err)
		}
		tmps = append(tmps, f.Name())
		var out io.Writer = f
		if sink != nil {
			out = sink(f)
		}
		werr := writeTableCSV(out, t, v.loc)
		if werr == nil {
			werr = f.Sync()
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("csv %s: %w", filepath.Join(dir, t.file), werr)
		}
	}
	for i, t := range tables {
		path := filepath.Join(dir, t.file)
		if err := os.Rename(tmps[i], path); err != nil {
			return nil, fmt.Errorf("csv %s: rename into place: %w", path, err)
		}
		tmps[i] = ""
		paths = append(paths, path)
	}
	removeStaleQueues(dir, len(v.queues))
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return paths, nil
}

// removeStaleQueues removes queue-K.csv for K > n: files of an earlier run
// with more queues would be taken for part of this one.
func removeStaleQueues(dir string, n int) {
	old, _ := filepath.Glob(filepath.Join(dir, "queue-*.csv"))
	for _, p := range old {
		k, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "queue-"), ".csv"))
		if err == nil && k > n {
			_ = os.Remove(p)
		}
	}
}

// writeTableCSV writes t's header and rows.
func writeTableCSV(out io.Writer, t table, loc *time.Location) error {
	bw := bufio.NewWriterSize(out, 256<<10)
	w := csv.NewWriter(bw)
	w.UseCRLF = true
	rec := make([]string, len(t.columns))
	for c, col := range t.columns {
		rec[c] = col.header
	}
	if err := w.Write(rec); err != nil {
		return err
	}
	row := make([]value, len(t.columns))
	for i := range t.rows {
		t.row(i, row)
		for c := range row {
			rec[c] = csvField(&row[c], loc)
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// csvField is v's text in CSV.
func csvField(v *value, loc *time.Location) string {
	switch v.kind {
	case textCell:
		return neutralise(v.s)
	case numberCell:
		return strconv.FormatInt(v.n, 10)
	case timeCell:
		return v.t.In(loc).Format(time.RFC3339)
	case dayCell:
		return v.t.Format(time.DateOnly)
	}
	return ""
}

// neutralise prefixes a text a spreadsheet would take for a formula with a
// single quote (OWASP, CSV injection). An international phone number
// ("+49 30 1234-5") is left alone: digits and separators call no function,
// and a quote in front would break every dialler and CRM import.
func neutralise(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 && !phoneNumber.MatchString(s) {
		return "'" + s
	}
	return s
}

var phoneNumber = regexp.MustCompile(`^\+[0-9][0-9 ()./-]*$`)

// summaryTable is the Summary as a CSV table of figures: its lines, then
// every cell of its tables as "table: row, column".
func (v *view) summaryTable() table {
	fig := figures(v)
	type fv struct {
		figure string
		val    value
	}
	var rows []fv
	for _, l := range v.summaryLines(&fig) {
		rows = append(rows, fv{l.label, l.val})
	}
	tab := func(title string, c *crosstab) {
		for t, typ := range customerTypes() {
			for j, i := range results.Impacts {
				rows = append(rows, fv{fmt.Sprintf("%s: %s, %s", title, typ, i), number(int64(c[t][j]))})
			}
		}
	}
	tab(accountsTitle, fig.accounts)
	tab(mailboxesTitle, fig.mailboxes)
	for q, accounts := range v.queues {
		rows = append(rows,
			fv{queuesTitle + ": " + queueSheet(q) + ", accounts", number(int64(len(accounts)))},
			fv{queuesTitle + ": " + queueSheet(q) + ", affected mailboxes", number(int64(v.queueLoad[q]))})
	}
	for _, i := range fig.top {
		a := &v.rec.accounts[i]
		rows = append(rows, fv{topTitle + ": " + v.rec.id(a), number(int64(a.affected()))})
	}
	return table{
		name:    summarySheet,
		file:    fileName(summarySheet),
		columns: []column{{header: "Figure", kind: textCell}, {header: "Value", kind: textCell}},
		rows:    len(rows),
		row: func(i int, out []value) {
			out[0] = text(rows[i].figure)
			out[1] = rows[i].val
		},
	}
}
