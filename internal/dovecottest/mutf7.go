package dovecottest

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// mutf7Encoding is the modified base64 of RFC 3501 section 5.1.3: ',' takes
// the place of '/' because '/' is a common hierarchy separator.
var mutf7Encoding = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

// encodeMUTF7 encodes a UTF-8 mailbox name in modified UTF-7 (RFC 3501
// section 5.1.3), the form Dovecot 2.3 uses for Maildir++ folder names on disk.
// Printable US-ASCII passes through, '&' becomes "&-", everything else is
// UTF-16BE in modified base64 between '&' and '-'.
func encodeMUTF7(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("mailbox name %q is not valid UTF-8", s)
	}
	var b strings.Builder
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		u := utf16.Encode(run)
		raw := make([]byte, 0, 2*len(u))
		for _, c := range u {
			raw = append(raw, byte(c>>8), byte(c))
		}
		b.WriteByte('&')
		b.WriteString(mutf7Encoding.EncodeToString(raw))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			flush()
			b.WriteRune(r)
			if r == '&' {
				b.WriteByte('-')
			}
			continue
		}
		run = append(run, r)
	}
	flush()
	return b.String(), nil
}

// decodeMUTF7 is the inverse of encodeMUTF7. It rejects what RFC 3501 forbids:
// raw non-ASCII, an unterminated shift, an empty shift other than "&-", and a
// shift that encodes printable ASCII or ends in a broken UTF-16 sequence.
func decodeMUTF7(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("modified UTF-7 %q: byte 0x%02x at %d is not printable ASCII", s, c, i)
		}
		if c != '&' {
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return "", fmt.Errorf("modified UTF-7 %q: unterminated shift at %d", s, i)
		}
		enc := s[i+1 : i+1+end]
		i += end + 1
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		raw, err := mutf7Encoding.DecodeString(enc)
		if err != nil {
			return "", fmt.Errorf("modified UTF-7 %q: %w", s, err)
		}
		if len(raw)%2 != 0 {
			return "", fmt.Errorf("modified UTF-7 %q: odd number of UTF-16 bytes", s)
		}
		u := make([]uint16, len(raw)/2)
		for j := range u {
			u[j] = uint16(raw[2*j])<<8 | uint16(raw[2*j+1])
		}
		for _, r := range utf16.Decode(u) {
			if r == utf8.RuneError {
				return "", fmt.Errorf("modified UTF-7 %q: broken UTF-16 surrogate", s)
			}
			if r >= 0x20 && r <= 0x7e {
				return "", fmt.Errorf("modified UTF-7 %q: shift encodes printable ASCII %q", s, r)
			}
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}
