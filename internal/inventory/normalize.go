package inventory

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// isTrimmed reports the characters trimmed from both ends of every value:
// Unicode white space (which includes U+00A0 NO-BREAK SPACE), the BOM
// U+FEFF and the zero-width characters spreadsheets and web forms leave
// behind.
func isTrimmed(r rune) bool {
	switch r {
	case '\uFEFF', '\u200B', '\u200C', '\u200D', '\u2060':
		return true
	}
	return unicode.IsSpace(r)
}

// clean trims a value; most values need nothing, so that case does not
// allocate or decode runes.
func clean(s string) string {
	if s == "" {
		return s
	}
	if first, last := s[0], s[len(s)-1]; first > ' ' && first < utf8.RuneSelf && last > ' ' && last < utf8.RuneSelf {
		return s
	}
	return strings.TrimFunc(s, isTrimmed)
}

// normMailbox checks a trimmed, non-empty mailbox and lowercases its domain.
// problem says what is wrong ("contains a space") when it is not a mailbox.
func normMailbox(s string) (mailbox, problem string) {
	at, ats := -1, 0
	upperDomain, asciiDomain := false, true
	for i, r := range s {
		if r < utf8.RuneSelf {
			// ASCII, nearly every byte of nearly every mailbox.
			switch {
			case r == '@':
				if ats == 0 {
					at = i
				}
				ats++
			case r == ' ':
				return "", "contains a space"
			case r < ' ' || r == 0x7F:
				if r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' {
					return "", fmt.Sprintf("contains white space %U", r)
				}
				return "", fmt.Sprintf("contains a control character %U", r)
			case at >= 0 && 'A' <= r && r <= 'Z':
				upperDomain = true
			}
			continue
		}
		switch {
		case r == '\u00A0':
			return "", "contains a space"
		case unicode.IsSpace(r):
			return "", fmt.Sprintf("contains white space %U", r)
		case unicode.IsControl(r):
			return "", fmt.Sprintf("contains a control character %U", r)
		case unicode.Is(unicode.Cf, r):
			return "", fmt.Sprintf("contains an invisible character %U", r)
		case at >= 0:
			asciiDomain = false
			upperDomain = upperDomain || unicode.IsUpper(r)
		}
	}
	switch {
	case ats > 1:
		return "", "contains more than one @"
	case at == 0:
		return "", "nothing before the @"
	case ats == 1 && at == len(s)-1:
		return "", "no domain after the @"
	case !upperDomain:
		return s, ""
	case !asciiDomain:
		return s[:at+1] + strings.ToLower(s[at+1:]), ""
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:at+1])
	for i := at + 1; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String(), ""
}

// mailboxKey is the key under which mailboxes are compared for duplicates.
// It allocates only when the mailbox has upper-case letters.
func mailboxKey(m string) string {
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return strings.ToLower(m)
		}
	}
	return m
}

const dateFormats = "YYYY-MM-DD, YYYY/MM/DD, DD.MM.YYYY, YYYY-MM-DD HH:MM[:SS] or RFC 3339 (2019-01-31T08:30:00+01:00)"

// parseDate parses a trimmed, non-empty created value. The layout is chosen
// from the value's shape rather than by trying each layout in turn: a failed
// time.Parse allocates, and an inventory has a date on every row.
func parseDate(s string) (time.Time, error) {
	layout := ""
	switch {
	case len(s) == 10 && s[4] == '-':
		layout = "2006-01-02"
	case len(s) == 10 && s[4] == '/':
		layout = "2006/01/02"
	case len(s) >= 8 && len(s) <= 10 && strings.Count(s, ".") == 2:
		layout = "2.1.2006"
	case len(s) > 10 && s[4] == '-' && (s[10] == 'T' || s[10] == 't'):
		layout = time.RFC3339
	case len(s) > 10 && s[4] == '-' && s[10] == ' ':
		layout = "2006-01-02 15:04"
		if strings.Count(s, ":") == 2 {
			layout = "2006-01-02 15:04:05"
		}
	}
	if layout == "" {
		why := ""
		if isSlashDate(s) {
			why = " (day and month cannot be told apart)"
		}
		return time.Time{}, fmt.Errorf("expected a date as %s, got %q%s", dateFormats, s, why)
	}
	if layout == time.RFC3339 && s[10] == 't' {
		s = s[:10] + "T" + s[11:]
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expected a date as %s, got %q (not a valid date)", dateFormats, s)
	}
	return t, nil
}

// isSlashDate reports forms like 03/04/2019 or 3/4/19.
func isSlashDate(s string) bool {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil {
			return false
		}
	}
	return len(parts[0]) <= 2 && len(parts[1]) <= 2
}

// maxExcelSerial is 9999-12-31, the last day Excel can represent.
const maxExcelSerial = 2958465

// parseXLSXDate reads an XLSX created cell. raw is the cell's stored value,
// shown the displayed one. A number displayed differently from how it is
// stored carries a number format, which in a date column is a date format:
// it is read as an Excel serial date. (The displayed form of the default
// date format, "01-03-19", is ambiguous, hence the raw value.) Anything else
// is parsed as text.
func parseXLSXDate(raw, shown string, date1904 bool) (time.Time, error) {
	if raw != shown {
		if v, err := strconv.ParseFloat(raw, 64); err == nil {
			if v < 1 || v >= maxExcelSerial+1 {
				return time.Time{}, fmt.Errorf("expected a date, got the number %s shown as %q", raw, shown)
			}
			return excelize.ExcelDateToTime(v, date1904)
		}
	}
	if t, err := parseDate(raw); err == nil || raw == shown {
		return t, err
	}
	return parseDate(shown)
}

// isLostNumber reports an identifier that a spreadsheet turned into a
// floating-point number and printed in scientific notation (1.23457E+18):
// its digits are gone and it would match no account.
func isLostNumber(s string) bool {
	mant, exp, ok := strings.Cut(strings.ToUpper(s), "E+")
	if !ok || mant == "" || exp == "" {
		return false
	}
	if _, err := strconv.ParseFloat(mant, 64); err != nil {
		return false
	}
	_, err := strconv.Atoi(exp)
	return err == nil
}
