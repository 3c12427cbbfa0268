package inventory

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/xuri/excelize/v2"
)

// TableRow is one non-blank row of a table read by ReadTable.
type TableRow struct {
	Line  int      // 1-based line (CSV) or row (XLSX) number of the row's first cell
	Cells []string // cells as written, trimmed like inventory values; valid only during the callback
}

// ReadTable reads a CSV (.csv, .txt: UTF-8, separator detected as for the
// inventory, Excel's sep= line honoured) or XLSX (.xlsx; sheet "" is the
// first) table for files other than the inventory, such as a baseline
// manifest. header receives the first non-blank row; row receives every
// later non-blank row in order. Errors are *RowError naming file:line where
// a line applies, or whatever header or row return (stopping the read).
func ReadTable(path, sheet string, header func(TableRow) error, row func(TableRow) error) error {
	name := filepath.Base(path)
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".csv", ".txt":
		if sheet != "" {
			return fmt.Errorf("read %s: a sheet (%q) was named but a CSV file has no sheets", name, sheet)
		}
		return tableCSV(path, name, header, row)
	case ".xlsx":
		return tableXLSX(path, name, sheet, header, row)
	default:
		return fmt.Errorf("read %s: unknown format %q: accepted are .csv, .txt (CSV, UTF-8) and .xlsx", name, ext)
	}
}

// HeaderKey folds a header name for matching as the inventory does:
// lowercase, without white space, '-', '_' and invisible characters.
func HeaderKey(h string) string { return headerKey(h) }

// NormalizeMailbox trims a mailbox and lowercases its domain, as the
// inventory does; problem says what is wrong when it is not a mailbox.
func NormalizeMailbox(s string) (mailbox, problem string) {
	s = clean(s)
	if s == "" {
		return "", "empty"
	}
	return normMailbox(s)
}

func cleanCells(cells []string) []string {
	for i, c := range cells {
		cells[i] = clean(c)
	}
	return cells
}

// rowSink hands a table's first non-blank row to header and the others
// to row.
type rowSink struct {
	header, row func(TableRow) error
	seen        bool // the header row was handed over
}

func (s *rowSink) add(tr TableRow) error {
	if !s.seen {
		s.seen = true
		return s.header(tr)
	}
	return s.row(tr)
}

func tableCSV(path, name string, header, row func(TableRow) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	r, lineOffset, _, err := newCSVReader(f, name)
	if err != nil {
		return err
	}
	lineOf := func(col int) int {
		line, _ := r.FieldPos(col)
		return line + lineOffset
	}
	sink := &rowSink{header: header, row: row}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return csvFatal(name, lineOffset, err)
		}
		if err := checkUTF8(name, rec, lineOf, func(i int) string { return fmt.Sprintf("field %d", i+1) }); err != nil {
			return err
		}
		if allBlank(rec) {
			continue
		}
		if err := sink.add(TableRow{Line: lineOf(0), Cells: cleanCells(rec)}); err != nil {
			return err
		}
	}
	if !sink.seen {
		return &RowError{File: name, Msg: "no header row: the file has no data"}
	}
	return nil
}

func tableXLSX(path, name, sheet string, header, row func(TableRow) error) error {
	f, err := excelize.OpenFile(path)
	if errors.Is(err, zip.ErrFormat) {
		return fmt.Errorf("read %s: not an .xlsx workbook (an .xls or CSV file renamed?): %w", name, err)
	}
	if err != nil {
		return fmt.Errorf("read %s: open workbook: %w", name, err)
	}
	defer f.Close()
	sh, err := pickSheet(f.GetSheetList(), sheet)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	rows, err := f.Rows(sh)
	if err != nil {
		return fmt.Errorf("read %s: sheet %q: %w", name, sh, err)
	}
	defer rows.Close()
	n := 0
	sink := &rowSink{header: header, row: row}
	for rows.Next() {
		n++
		cells, err := rows.Columns()
		if err != nil {
			return &RowError{File: name, Line: n, Msg: fmt.Sprintf("sheet %q: %v", sh, err)}
		}
		if allBlank(cells) {
			continue
		}
		if err := sink.add(TableRow{Line: n, Cells: cleanCells(cells)}); err != nil {
			return err
		}
	}
	if err := rows.Error(); err != nil {
		return &RowError{File: name, Line: n + 1, Msg: fmt.Sprintf("sheet %q: %v", sh, err)}
	}
	if !sink.seen {
		return &RowError{File: name, Msg: fmt.Sprintf("no header row: sheet %q is empty", sh)}
	}
	return nil
}
