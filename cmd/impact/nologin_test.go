package main

import (
	"strings"
	"testing"

	"github.com/impact-ops/impact/internal/results"
)

func TestNoLoginAdvice(t *testing.T) {
	target := results.Target{Server: "imap.example.net:993", Addresses: []string{"192.0.2.7"}}
	tests := []struct {
		ok, refused int
		want        string
	}{
		{0, 12, "all 12 logins of this run were refused"},
		{1, 500, ""}, // one login worked: the server is the right one
		{0, 9, ""},   // too few to say
	}
	for _, tt := range tests {
		got := noLoginAdvice(tt.ok, tt.refused, target)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("ok %d refused %d: %q, want %q", tt.ok, tt.refused, got, tt.want)
		}
		if got != "" && !strings.Contains(got, "imap.example.net:993 (192.0.2.7)") {
			t.Errorf("advice does not name the target: %q", got)
		}
	}
}
