package inventory

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// sizeSample is the number of rows after which a CSV inventory's size is
// estimated.
const sizeSample = 2000

// readCSV reads a CSV inventory. Only the current record is held while
// reading; accepted rows are copied out by the builder.
func readCSV(path, name string, opts Options) (*Inventory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory %s: %w", name, err)
	}
	defer f.Close()

	r, lineOffset, comma, err := newCSVReader(f, name)
	if err != nil {
		return nil, err
	}
	// TrimLeadingSpace stays off: it would cut spaces that belong to a
	// password, and eat empty fields of tab-separated files.

	inv := &Inventory{Separator: comma}
	lineOf := func(col int) int {
		line, _ := r.FieldPos(col)
		return line + lineOffset
	}

	// Header: the first row with something in it.
	var header []string
	for header == nil {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil, &RowError{File: name, Msg: "no header row: the file has no data"}
		}
		if err != nil {
			return nil, csvFatal(name, lineOffset, err)
		}
		if err := checkUTF8(name, rec, lineOf, func(int) string { return "" }); err != nil {
			return nil, err
		}
		if !allBlank(rec) {
			header = slices.Clone(rec)
		}
	}
	headerLine := lineOf(0)
	label := func(i int, h string) string { return h }
	lay, ignored, err := mapHeader(name, headerLine, header, opts.NeedPassword, label)
	if err != nil {
		return nil, err
	}
	inv.Columns, inv.Ignored = lay.columns(), ignored
	colName := func(i int) string {
		if i < len(header) {
			if h := clean(header[i]); h != "" {
				return h
			}
		}
		return fmt.Sprintf("field %d", i+1)
	}

	b := newBuilder(inv, name, lay, opts.NeedPassword)
	b.fieldLine = lineOf
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size() // the few bytes before the first row do not matter to an estimate
	}
	headerEnd := r.InputOffset()
	for rows := 0; ; rows++ {
		if rows == sizeSample && size > 0 {
			// Size the entries from the rows read so far rather than
			// let append double a slice of a million entries.
			b.expect(int(float64(rows) * float64(size-headerEnd) / float64(r.InputOffset()-headerEnd) * 1.05))
		}
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) || pe.Line != pe.StartLine {
				// A quote problem across lines leaves no trustworthy row
				// boundary for the rest of the file.
				return nil, csvFatal(name, lineOffset, err)
			}
			b.rejectRow(pe.StartLine+lineOffset, quoteMsg(pe))
			continue
		}
		if err := checkUTF8(name, rec, lineOf, colName); err != nil {
			return nil, err
		}
		if allBlank(rec) {
			continue
		}
		line := lineOf(0)
		switch {
		case len(rec) < lay.width:
			b.rejectRow(line, fmt.Sprintf("expected %d fields as in the header row (line %d), got %d: a separator %q is missing or the row is cut short",
				lay.width, headerLine, len(rec), comma))
			continue
		case len(rec) > lay.width && !allBlank(rec[lay.width:]):
			b.rejectRow(line, fmt.Sprintf("expected %d fields as in the header row (line %d), got %d: a value containing %q must be put in double quotes",
				lay.width, headerLine, len(rec), comma))
			continue
		}
		b.add(line, rec, "", false)
	}
	return inv, nil
}

// sepLine recognises Excel's "sep=X" first line, also quoted.
func sepLine(line []byte) (rune, bool) {
	s := strings.TrimSuffix(string(line), "\r")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if len(s) < 5 || !strings.EqualFold(s[:4], "sep=") {
		return 0, false
	}
	c, size := utf8.DecodeRuneInString(s[4:])
	if 4+size != len(s) {
		return 0, false
	}
	return c, true
}

// validComma mirrors encoding/csv's rule for Reader.Comma.
func validComma(c rune) bool {
	return c != 0 && c != '"' && c != '\r' && c != '\n' && utf8.ValidRune(c) && c != utf8.RuneError
}

// detectComma picks the separator of the first non-blank line: whichever of
// comma, semicolon and tab occurs most often outside double quotes; comma
// when none does.
func detectComma(b []byte) rune {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		if len(bytes.Trim(line, " \t\r,;\"")) == 0 {
			continue
		}
		var commas, semis, tabs int
		quoted := false
		for _, c := range line {
			switch {
			case c == '"':
				quoted = !quoted
			case quoted:
			case c == ',':
				commas++
			case c == ';':
				semis++
			case c == '\t':
				tabs++
			}
		}
		switch {
		case semis > commas && semis >= tabs:
			return ';'
		case tabs > commas && tabs > semis:
			return '\t'
		}
		return ','
	}
	return ','
}

// checkUTF8 fails on the first cell of rec that is not valid UTF-8, naming
// the exact line (quoted cells may span lines).
func checkUTF8(name string, rec []string, lineOf func(int) int, colName func(int) string) error {
	for i, c := range rec {
		if utf8.ValidString(c) {
			continue
		}
		bad := 0
		for bad < len(c) {
			r, size := utf8.DecodeRuneInString(c[bad:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			bad += size
		}
		return &RowError{
			File:   name,
			Line:   lineOf(i) + strings.Count(c[:bad], "\n"),
			Column: colName(i),
			Msg: fmt.Sprintf("invalid UTF-8 (byte 0x%02X): the file is in another encoding, probably Windows-1252; "+
				`export it again as "CSV UTF-8" or convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8`, c[bad]),
		}
	}
	return nil
}

// csvFatal turns a CSV syntax error that stops reading into a RowError.
func csvFatal(name string, lineOffset int, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("read inventory %s: %w", name, err)
	}
	msg := quoteMsg(pe)
	if pe.Line != pe.StartLine {
		msg = fmt.Sprintf("a quoted field that starts in this row is still open at line %d; look for a stray \" in this row",
			pe.Line+lineOffset)
	}
	return &RowError{File: name, Line: pe.StartLine + lineOffset, Msg: msg}
}

func quoteMsg(pe *csv.ParseError) string {
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Sprintf(`a " in an unquoted value (position %d on the line): put the whole value in double quotes and double the " inside ("")`, pe.Column)
	case errors.Is(pe.Err, csv.ErrQuote):
		return fmt.Sprintf(`a quoted value is not closed properly (position %d on the line): a " inside quotes must be doubled ("")`, pe.Column)
	default:
		return pe.Err.Error()
	}
}

// newCSVReader reads what the start of a CSV file decides (encoding, a
// BOM, Excel's sep= line, the separator) and returns a reader positioned at
// the first row, with the number of lines before it.
func newCSVReader(f io.Reader, name string) (r *csv.Reader, lineOffset int, comma rune, err error) {
	br := bufio.NewReaderSize(f, 64<<10)
	// The start of the file decides the encoding, the sep= line and the
	// separator; Peek leaves it in place for the CSV reader.
	start, err := br.Peek(br.Size())
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, 0, fmt.Errorf("read %s: %w", name, err)
	}
	if bytes.HasPrefix(start, []byte{0xFF, 0xFE}) || bytes.HasPrefix(start, []byte{0xFE, 0xFF}) {
		return nil, 0, 0, &RowError{File: name, Line: 1, Msg: `the file is UTF-16 (Excel "Unicode Text"); save it as "CSV UTF-8 (Comma delimited)"`}
	}
	skip := 0
	if bytes.HasPrefix(start, utf8BOM) {
		skip = len(utf8BOM)
	}
	first, _, hasNL := bytes.Cut(start[skip:], []byte{'\n'})
	if c, ok := sepLine(first); ok {
		if !validComma(c) {
			return nil, 0, 0, &RowError{File: name, Line: 1, Msg: fmt.Sprintf("the sep= line names %q, which cannot separate fields", c)}
		}
		comma = c
		skip += len(first)
		if hasNL {
			skip++
		}
		lineOffset = 1
	} else {
		comma = detectComma(start[skip:])
	}
	if _, err := br.Discard(skip); err != nil {
		return nil, 0, 0, fmt.Errorf("read %s: %w", name, err)
	}

	r = csv.NewReader(br)
	r.Comma = comma
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	return r, lineOffset, comma, nil
}
