package export

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/impact-ops/impact/internal/results"
)

// maxSheetRows is the xlsx limit of rows per sheet.
const maxSheetRows = excelize.TotalRows

// Width estimate, in characters of the default font.
const (
	minWidth        = 6
	defaultMaxWidth = 50
	timeWidth       = 16 // "yyyy-mm-dd hh:mm"
	dayWidth        = 10 // "yyyy-mm-dd"
)

// impactColour is the fill (RGB hex) of each impact, used in every sheet and
// the chart. Values outside the vocabulary are painted as probe_error.
func impactColour(i results.Impact) string {
	switch i {
	case results.ImpactLoginFailed:
		return "FF7C80" // red
	case results.ImpactMissingOldMail:
		return "F4B183" // orange
	case results.ImpactNoOldMail:
		return "BDD7EE" // light blue
	case results.ImpactOK:
		return "A9D08E" // green
	default:
		return "BFBFBF" // grey: probe_error
	}
}

// styles holds the ID of every cell style; each is created once per file
// (xlsx caps a workbook at 65,430 styles).
type styles struct {
	header, headerNum        int
	title, label, bold, warn int
	number, time, day        int
	impact                   map[results.Impact]int // text with the impact's fill
	impactHeader             map[results.Impact]int // bold, centred, with fill
}

func newStyles(f *excelize.File) (*styles, error) {
	var err error
	mk := func(s *excelize.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = f.NewStyle(s)
		return id
	}
	timeFmt, dayFmt := "yyyy-mm-dd hh:mm", "yyyy-mm-dd"
	right := &excelize.Alignment{Horizontal: "right"}
	headerFill := excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D9D9D9"}}
	headerBorder := []excelize.Border{{Type: "bottom", Color: "808080", Style: 1}}
	st := &styles{
		header:       mk(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: headerFill, Border: headerBorder}),
		headerNum:    mk(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: headerFill, Border: headerBorder, Alignment: right}),
		title:        mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}}),
		label:        mk(&excelize.Style{Font: &excelize.Font{Bold: true}, Alignment: &excelize.Alignment{Vertical: "top"}}),
		bold:         mk(&excelize.Style{Font: &excelize.Font{Bold: true}}),
		warn:         mk(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "C00000"}}),
		number:       mk(&excelize.Style{NumFmt: 3, Alignment: right}), // #,##0
		time:         mk(&excelize.Style{CustomNumFmt: &timeFmt, Alignment: right}),
		day:          mk(&excelize.Style{CustomNumFmt: &dayFmt, Alignment: right}),
		impact:       map[results.Impact]int{},
		impactHeader: map[results.Impact]int{},
	}
	for _, i := range results.Impacts {
		fill := excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{impactColour(i)}}
		st.impact[i] = mk(&excelize.Style{Fill: fill})
		st.impactHeader[i] = mk(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: fill,
			Border: headerBorder, Alignment: &excelize.Alignment{Horizontal: "center"}})
	}
	if err != nil {
		return nil, fmt.Errorf("create cell styles: %w", err)
	}
	return st, nil
}

// cellStyle is the style of a value's cell.
func (st *styles) cellStyle(v *value) int {
	if v.fill != "" {
		return st.impact[fillImpact(v.fill)]
	}
	switch v.kind {
	case numberCell:
		return st.number
	case timeCell:
		return st.time
	case dayCell:
		return st.day
	}
	return 0
}

func (st *styles) headerStyle(c column) int {
	if c.kind == textCell || c.kind == emptyCell {
		return st.header
	}
	return st.headerNum
}

// cellValue is what excelize is given for v: only ever a string, an int64
// or a time.Time, so no text can become a formula.
func cellValue(v *value, loc *time.Location) any {
	switch v.kind {
	case textCell:
		return v.s
	case numberCell:
		return v.n
	case timeCell:
		t := v.t.In(loc)
		if t.Year() < 1900 {
			// Not a valid Excel date serial; excelize would write an
			// RFC 3339 string with the zone offset applied twice.
			return t.Format("2006-01-02 15:04")
		}
		// excelize writes the wall clock of the time's own location.
		return t
	case dayCell:
		return v.t
	}
	return nil
}

// render builds the whole workbook and writes it to out.
func render(out io.Writer, r *Report, opts Options) error {
	v := newView(r)
	f := excelize.NewFile(excelize.Options{TmpDir: opts.TmpDir})
	defer f.Close()
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	if err := writeSummary(f, st, v); err != nil {
		return fmt.Errorf("summary sheet: %w", err)
	}
	// Before any sheet is streamed: SetActiveSheet visits every sheet and
	// would parse a flushed stream's XML back into memory.
	f.SetActiveSheet(0)
	for _, t := range v.tables() {
		if err := streamTable(f, st, v.loc, t, opts.MaxRows); err != nil {
			return fmt.Errorf("%s sheet: %w", t.name, err)
		}
	}
	if err := f.SetDocProps(docProps(v)); err != nil {
		return fmt.Errorf("document properties: %w", err)
	}
	return save(f, out)
}

func docProps(v *view) *excelize.DocProperties {
	p := &excelize.DocProperties{
		Title:       v.r.Title,
		Subject:     "IMAP mailbox impact report for " + serverName(v.r),
		Creator:     "impact",
		Description: "Mailboxes probed read-only over IMAP; cutoff " + formatInstant(v.r.Cutoff, v.loc),
	}
	if !v.r.Finished.IsZero() {
		p.Created = v.r.Finished.UTC().Format(time.RFC3339)
	}
	return p
}

// streamTable writes t to one sheet, or to several ("Name (2)", ...) when it
// has more than maxRows-1 rows, with excelize's StreamWriter so that a
// million rows do not sit in memory as cells.
func streamTable(f *excelize.File, st *styles, loc *time.Location, t table, maxRows int) error {
	widths := estimateWidths(t)
	perSheet := maxRows - 1
	sheets := max(1, (t.rows+perSheet-1)/perSheet)
	ncol := len(t.columns)
	row := make([]value, ncol)
	cells := make([]excelize.Cell, ncol)
	vals := make([]any, ncol)
	for part := range sheets {
		name := t.name
		if part > 0 {
			name = fmt.Sprintf("%s (%d)", t.name, part+1)
		}
		first := part * perSheet
		n := min(perSheet, t.rows-first)
		if _, err := f.NewSheet(name); err != nil {
			return fmt.Errorf("new sheet %s: %w", name, err)
		}
		lastCol, _ := excelize.ColumnNumberToName(ncol)
		// The filter must be on the worksheet before the stream writer
		// copies its settings.
		if err := f.AutoFilter(name, "A1:"+lastCol+strconv.Itoa(n+1), nil); err != nil {
			return fmt.Errorf("%s: autofilter: %w", name, err)
		}
		sw, err := f.NewStreamWriter(name)
		if err != nil {
			return fmt.Errorf("%s: stream writer: %w", name, err)
		}
		// Right to left: excelize v2.11.1 puts each new <col> in front of
		// the earlier ones and the stream writer does not sort them, while
		// the format wants them in ascending order.
		for c := len(widths) - 1; c >= 0; c-- {
			if err := sw.SetColWidth(c+1, c+1, widths[c]); err != nil {
				return fmt.Errorf("%s: column width: %w", name, err)
			}
		}
		if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
			return fmt.Errorf("%s: freeze header: %w", name, err)
		}
		for c, col := range t.columns {
			cells[c] = excelize.Cell{StyleID: st.headerStyle(col), Value: col.header}
			vals[c] = &cells[c]
		}
		if err := sw.SetRow("A1", vals); err != nil {
			return fmt.Errorf("%s: header row: %w", name, err)
		}
		for i := range n {
			t.row(first+i, row)
			for c := range row {
				v := &row[c]
				if v.kind == emptyCell {
					// No cell at all: an unknown is not a zero.
					vals[c] = nil
					continue
				}
				cells[c] = excelize.Cell{StyleID: st.cellStyle(v), Value: cellValue(v, loc)}
				vals[c] = &cells[c]
			}
			cell, _ := excelize.CoordinatesToCellName(1, i+2)
			if err := sw.SetRow(cell, vals); err != nil {
				return fmt.Errorf("%s: row %d: %w", name, i+2, err)
			}
		}
		if err := sw.Flush(); err != nil {
			return fmt.Errorf("%s: flush: %w", name, err)
		}
	}
	return nil
}

// estimateWidths sizes every column to its longest value (header
// included), capped, by visiting all rows once.
func estimateWidths(t table) []float64 {
	n := len(t.columns)
	longest := make([]int, n)
	for c, col := range t.columns {
		// Bold headers with a filter button need a little more room.
		longest[c] = textWidth(col.header) + 2
	}
	row := make([]value, n)
	for i := range t.rows {
		t.row(i, row)
		for c := range row {
			longest[c] = max(longest[c], valueWidth(&row[c]))
		}
	}
	widths := make([]float64, n)
	for c, col := range t.columns {
		limit := col.maxWidth
		if limit == 0 {
			limit = defaultMaxWidth
		}
		widths[c] = math.Min(math.Max(float64(longest[c]+1), minWidth), limit)
	}
	return widths
}

func valueWidth(v *value) int {
	switch v.kind {
	case textCell:
		return textWidth(v.s)
	case numberCell:
		digits := len(strconv.FormatInt(v.n, 10))
		return digits + (digits-1)/3 // thousands separators
	case timeCell:
		return timeWidth
	case dayCell:
		return dayWidth
	}
	return 0
}

// textWidth approximates the displayed width of the longest line of s: wide
// (CJK) characters count two.
func textWidth(s string) int {
	longest, w := 0, 0
	for _, r := range s {
		switch {
		case r == '\n':
			longest, w = max(longest, w), 0
		case r >= 0x1100 && r != utf8.RuneError:
			w += 2
		default:
			w++
		}
	}
	return max(longest, w)
}

// save writes the workbook's zip to out.
//
// excelize v2.11.1's File.Write first builds the whole zip in a
// bytes.Buffer (tens to hundreds of MB for a million mailboxes) before
// copying it out. Its ZipWriter hook lets the zip go straight to out
// instead: the hook ignores the buffer it is handed, which therefore stays
// empty. excelize patches that buffer only for zip parts over 4 GiB, which
// this writer refuses instead (see sizeLimitedZip).
func save(f *excelize.File, out io.Writer) error {
	var zw *sizeLimitedZip
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter {
		zw = &sizeLimitedZip{zw: zip.NewWriter(out)}
		return zw
	})
	if err := f.Write(io.Discard); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if zw != nil && zw.tooBig != "" {
		return fmt.Errorf("write: part %s passes 4 GiB, which xlsx readers reject", zw.tooBig)
	}
	return nil
}

// sizeLimitedZip is a zip writer that notes any part of 4 GiB or more: such a
// part needs ZIP64 headers that Go's archive/zip writes in a form Excel
// calls corrupt.
type sizeLimitedZip struct {
	zw     *zip.Writer
	cur    *countingWriter
	tooBig string
}

func (z *sizeLimitedZip) Create(name string) (io.Writer, error) {
	z.check()
	w, err := z.zw.Create(name)
	if err != nil {
		return nil, err
	}
	z.cur = &countingWriter{w: w, name: name}
	return z.cur, nil
}

func (z *sizeLimitedZip) AddFS(fsys fs.FS) error { return z.zw.AddFS(fsys) }

func (z *sizeLimitedZip) Close() error {
	z.check()
	return z.zw.Close()
}

func (z *sizeLimitedZip) check() {
	if z.cur != nil && z.cur.n > math.MaxUint32 && z.tooBig == "" {
		z.tooBig = z.cur.name
	}
}

type countingWriter struct {
	w    io.Writer
	name string
	n    int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
