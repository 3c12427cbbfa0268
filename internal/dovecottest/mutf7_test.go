package dovecottest

import "testing"

func TestMUTF7(t *testing.T) {
	tests := []struct{ utf8, mutf7 string }{
		{"INBOX", "INBOX"},
		{"Prüfung", "Pr&APw-fung"},
		{"Entwürfe", "Entw&APw-rfe"},
		{"Gesendete Objekte", "Gesendete Objekte"},
		{"A&B", "A&-B"},
		{"&", "&-"},
		// RFC 3501 section 5.1.3's example.
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		{"Über", "&ANw-ber"},
		{"ÄÖÜ", "&AMQA1gDc-"},
		{"😀", "&2D3eAA-"},
	}
	for _, tt := range tests {
		t.Run(tt.utf8, func(t *testing.T) {
			got, err := encodeMUTF7(tt.utf8)
			if err != nil || got != tt.mutf7 {
				t.Errorf("encode(%q) = %q, %v; want %q", tt.utf8, got, err, tt.mutf7)
			}
			back, err := decodeMUTF7(tt.mutf7)
			if err != nil || back != tt.utf8 {
				t.Errorf("decode(%q) = %q, %v; want %q", tt.mutf7, back, err, tt.utf8)
			}
		})
	}
}

func TestDecodeMUTF7Rejects(t *testing.T) {
	for _, bad := range []string{
		"Pr&APw",    // unterminated shift
		"Prü",       // raw non-ASCII
		"&AGE-",     // shift encoding printable ASCII "a"
		"&2D0-",     // lone high surrogate
		"&A-",       // not a whole UTF-16 unit
		"tab\there", // control character
	} {
		if got, err := decodeMUTF7(bad); err == nil {
			t.Errorf("decode(%q) = %q, want an error", bad, got)
		}
	}
	if _, err := encodeMUTF7("bad\xffutf8"); err == nil {
		t.Error("encode accepted invalid UTF-8")
	}
}
