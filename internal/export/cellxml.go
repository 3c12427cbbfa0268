package export

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// rowsXML writes rows first..first+n-1 of t as SpreadsheetML <row>
// elements (ECMA-376 Part 1, 18.3.1.73), numbered from row 2 (row 1 is the
// header). It writes what excelize's StreamWriter would: text as an inline
// string (t="inlineStr", never a formula), counts as numbers, instants and
// days as date serials in loc's wall clock, an unknown as no cell at all.
func rowsXML(w io.Writer, st *styles, loc *time.Location, t table, first, n int) error {
	refs := make([][]byte, len(t.columns))
	for c := range t.columns {
		name, err := excelize.ColumnNumberToName(c + 1)
		if err != nil {
			return err
		}
		refs[c] = []byte(name)
	}
	row := make([]value, len(t.columns))
	buf := make([]byte, 0, 8<<10)
	for i := range n {
		t.row(first+i, row)
		r := strconv.AppendInt(nil, int64(i+2), 10)
		buf = append(buf[:0], `<row r="`...)
		buf = append(buf, r...)
		buf = append(buf, `">`...)
		for c := range row {
			v := &row[c]
			if v.kind == emptyCell {
				continue
			}
			buf = append(buf, `<c r="`...)
			buf = append(buf, refs[c]...)
			buf = append(buf, r...)
			buf = append(buf, '"')
			if s := st.cellStyle(v); s != 0 {
				buf = append(buf, ` s="`...)
				buf = strconv.AppendInt(buf, int64(s), 10)
				buf = append(buf, '"')
			}
			switch x := cellValue(v, loc).(type) {
			case string:
				buf = appendInlineString(buf, x)
			case int64:
				buf = append(buf, `><v>`...)
				buf = strconv.AppendInt(buf, x, 10)
				buf = append(buf, `</v></c>`...)
			case time.Time:
				buf = append(buf, `><v>`...)
				buf = strconv.AppendFloat(buf, excelSerial(x), 'f', -1, 64)
				buf = append(buf, `</v></c>`...)
			default:
				return fmt.Errorf("row %d column %d: unexpected %T", first+i+2, c+1, x)
			}
		}
		buf = append(buf, `</row>`...)
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// appendInlineString appends the rest of an inline string cell holding s,
// as excelize writes one: at most 32,767 UTF-16 units, XML-escaped (a
// character XML cannot carry becomes U+FFFD), "_xHHHH_" sequences escaped
// so readers do not decode them (ECMA-376 Part 1, 22.9.2.19 ST_Xstring),
// and xml:space="preserve" when it begins or ends with white space.
func appendInlineString(buf []byte, s string) []byte {
	s = truncateUTF16(s, excelize.TotalCellChars)
	buf = append(buf, ` t="inlineStr"><is><t`...)
	if s != "" && (isSpace(s[0]) || isSpace(s[len(s)-1])) {
		buf = append(buf, ` xml:space="preserve"`...)
	}
	buf = append(buf, '>')
	buf = appendEscaped(buf, s)
	return append(buf, `</t></is></c>`...)
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// truncateUTF16 cuts s to at most limit UTF-16 code units (a cell's limit
// is counted in them), never inside a character.
func truncateUTF16(s string, limit int) string {
	if len(s) <= limit { // every UTF-16 unit takes at least one byte
		return s
	}
	units := 0
	for i, r := range s {
		n := utf16.RuneLen(r)
		if n < 0 {
			n = 1
		}
		if units+n > limit {
			return s[:i]
		}
		units += n
	}
	return s
}

// appendEscaped appends s escaped as XML character data the way
// encoding/xml.EscapeText does, but with newlines kept as they are (as
// excelize does), plus the ST_Xstring escape of "_xHHHH_".
func appendEscaped(buf []byte, s string) []byte {
	plain := 0 // s[plain:i] needs no escaping and is not yet appended
	for i := 0; i < len(s); {
		b := s[i]
		if asciiPlain[b] {
			i++
			continue
		}
		buf = append(buf, s[plain:i]...)
		if b < utf8.RuneSelf {
			switch {
			case b == '&':
				buf = append(buf, "&amp;"...)
			case b == '<':
				buf = append(buf, "&lt;"...)
			case b == '>':
				buf = append(buf, "&gt;"...)
			case b == '"':
				buf = append(buf, "&#34;"...)
			case b == '\'':
				buf = append(buf, "&#39;"...)
			case b == '\t':
				buf = append(buf, "&#x9;"...)
			case b == '\r':
				buf = append(buf, "&#xD;"...)
			case b == '\n':
				buf = append(buf, '\n')
			case b == '_':
				if isXstringEscape(s[i:]) {
					buf = append(buf, "_x005F"...)
				}
				buf = append(buf, '_')
			default: // other control characters
				buf = append(buf, "\uFFFD"...)
			}
			i++
		} else {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 || !inXMLRange(r) {
				buf = append(buf, "\uFFFD"...)
			} else {
				buf = append(buf, s[i:i+n]...)
			}
			i += n
		}
		plain = i
	}
	return append(buf, s[plain:]...)
}

// asciiPlain marks the bytes appendEscaped copies as they are.
var asciiPlain = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = !strings.ContainsRune(`&<>"'_`, rune(b))
	}
	return t
}()

// isXstringEscape reports whether s starts with "_xHHHH_".
func isXstringEscape(s string) bool {
	if len(s) < 7 || s[1] != 'x' || s[6] != '_' {
		return false
	}
	for _, c := range []byte(s[2:6]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// inXMLRange reports whether r may appear in XML 1.0 (section 2.2, Char).
func inXMLRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// excelEpoch is day 0 of the 1900 date system: serial 1 is 1900-01-01.
var (
	excelEpoch     = time.Date(1899, time.December, 31, 0, 0, 0, 0, time.UTC)
	excelLeapStart = time.Date(1900, time.March, 1, 0, 0, 0, 0, time.UTC)
)

// excelSerial is t's wall clock as a 1900-system date serial (days and
// fraction), as excelize computes it: from 1900-03-01 on, one more, for the
// 29 February 1900 that Excel counts (Lotus 1-2-3 compatibility).
func excelSerial(t time.Time) float64 {
	wall := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	secs := wall.Unix() - excelEpoch.Unix()
	days, rem := secs/86400, secs%86400
	serial := float64(days) + float64(rem*1e9+int64(wall.Nanosecond()))/float64(24*time.Hour)
	if !wall.Before(excelLeapStart) {
		serial++
	}
	return serial
}
