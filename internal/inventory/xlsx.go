package inventory

import (
	"archive/zip"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// readXLSX reads an XLSX inventory through excelize's row iterator, which
// streams the sheet instead of loading it into memory.
func readXLSX(path, name string, opts Options) (*Inventory, error) {
	f, err := excelize.OpenFile(path)
	if errors.Is(err, zip.ErrFormat) {
		return nil, fmt.Errorf("read inventory %s: not an .xlsx workbook (an .xls or CSV file renamed?): %w", name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read inventory %s: open workbook: %w", name, err)
	}
	defer f.Close()

	sheet, err := pickSheet(f.GetSheetList(), opts.Sheet)
	if err != nil {
		return nil, fmt.Errorf("read inventory %s: %w", name, err)
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		return nil, fmt.Errorf("read inventory %s: sheet %q: %w", name, sheet, err)
	}
	defer rows.Close()

	inv := &Inventory{Sheet: sheet}
	// row counts Next calls: excelize's iterator yields every row number,
	// empty rows included, so the count is the spreadsheet row number.
	row := 0
	var header []string
	for header == nil && rows.Next() {
		row++
		cells, err := rows.Columns()
		if err != nil {
			return nil, &RowError{File: name, Line: row, Msg: fmt.Sprintf("sheet %q: %v", sheet, err)}
		}
		if !allBlank(cells) {
			header = cells
		}
	}
	if header == nil {
		return nil, &RowError{File: name, Msg: fmt.Sprintf("no header row: sheet %q is empty", sheet)}
	}
	label := func(i int, h string) string {
		col, _ := excelize.ColumnNumberToName(i + 1)
		return col + " (" + h + ")"
	}
	lay, ignored, err := mapHeader(name, row, header, opts.NeedPassword, label)
	if err != nil {
		return nil, err
	}
	inv.Columns, inv.Ignored = lay.columns(), ignored

	b := newBuilder(inv, name, lay, opts.NeedPassword)
	// Dates need the stored serial number, other cells the displayed text
	// ("00420"). A row can be read only once per iterator, so a second
	// iterator walks the sheet in step for the raw values.
	var raw *excelize.Rows
	createdCol := lay.col[fCreated]
	if createdCol >= 0 {
		props, err := f.GetWorkbookProps()
		if err != nil {
			return nil, fmt.Errorf("read inventory %s: workbook properties: %w", name, err)
		}
		b.date1904 = props.Date1904 != nil && *props.Date1904
		if raw, err = f.Rows(sheet); err != nil {
			return nil, fmt.Errorf("read inventory %s: sheet %q: %w", name, sheet, err)
		}
		defer raw.Close()
		for range row {
			raw.Next()
		}
	}
	for rows.Next() {
		row++
		cells, err := rows.Columns()
		if err != nil {
			return nil, &RowError{File: name, Line: row, Msg: fmt.Sprintf("sheet %q: %v", sheet, err)}
		}
		rawCreated := ""
		if raw != nil {
			raw.Next()
			rawCells, err := raw.Columns(excelize.Options{RawCellValue: true})
			if err != nil {
				return nil, &RowError{File: name, Line: row, Msg: fmt.Sprintf("sheet %q: %v", sheet, err)}
			}
			if createdCol < len(rawCells) {
				rawCreated = rawCells[createdCol]
			}
		}
		if allBlank(cells) {
			continue
		}
		b.add(row, cells, rawCreated, raw != nil)
	}
	if err := rows.Error(); err != nil {
		return nil, &RowError{File: name, Line: row + 1, Msg: fmt.Sprintf("sheet %q: %v", sheet, err)}
	}
	return inv, nil
}

// pickSheet returns the sheet to read: want, matched as Excel does without
// regard to case, or the first sheet when want is "".
func pickSheet(sheets []string, want string) (string, error) {
	if len(sheets) == 0 {
		return "", fmt.Errorf("the workbook has no sheets")
	}
	if want == "" {
		return sheets[0], nil
	}
	for _, s := range sheets {
		if strings.EqualFold(s, want) {
			return s, nil
		}
	}
	quoted := make([]string, len(sheets))
	for i, s := range sheets {
		quoted[i] = strconv.Quote(s)
	}
	return "", fmt.Errorf("no sheet %q: the workbook has %s", want, strings.Join(quoted, ", "))
}
