package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/impact-ops/impact/internal/classify"
	"github.com/impact-ops/impact/internal/inventory"
	"github.com/impact-ops/impact/internal/results"
)

func TestParseTolerance(t *testing.T) {
	tests := []struct {
		in   string
		want classify.Tolerance
		err  string
	}{
		{"5,2%", classify.Tolerance{Messages: 5, Percent: 2}, ""},
		{"0", classify.Tolerance{}, ""},
		{"10", classify.Tolerance{Messages: 10}, ""},
		{"2.5%", classify.Tolerance{Percent: 2.5}, ""},
		{" 3 , 1% ", classify.Tolerance{Messages: 3, Percent: 1}, ""},
		{"", classify.Tolerance{}, "empty"},
		{"-1", classify.Tolerance{}, "want a number of messages"},
		{"101%", classify.Tolerance{}, "from 0 to 100"},
		{"five", classify.Tolerance{}, "want a number of messages"},
	}
	for _, tt := range tests {
		got, err := parseTolerance(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	if got := classify.DefaultTolerance().String(); got != "5,2%" {
		t.Errorf("default tolerance prints %q, want 5,2%% (the flag's default must parse back)", got)
	}
}

func TestEvidenceFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--baseline-tolerance", "x"}, `--baseline-tolerance "x"`},
		{[]string{"--baseline-sheet", "S"}, "--baseline-sheet needs --baseline"},
		{[]string{"--baseline", "/nonexistent/base.csv"}, "read baseline"},
	}
	dir := t.TempDir()
	res := filepath.Join(dir, "scan.jsonl")
	writeTestFile(t, res, `{"kind":"scan","started_at":"2026-11-23T00:00:00Z","cutoff":"2026-11-22T07:00:00Z"}`+"\n")
	for _, tt := range tests {
		var stdout, stderr strings.Builder
		e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
		args := append([]string{"report", "--results", res, "--report", filepath.Join(dir, "r.xlsx")}, tt.args...)
		if code := runMain(t.Context(), e, args); code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want usage error with %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}

// A shard's report lists as "only in the baseline" only the baseline's
// mailboxes of its own shard.
func TestBaselineGapsShard(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("mailbox,messages\n")
	var all []inventory.Entry
	for i := range 20 {
		m := fmt.Sprintf("m%02d@x.example", i)
		fmt.Fprintf(&b, "%s,3\n", m)
		all = append(all, inventory.NewEntry(inventory.Fields{Mailbox: m}))
	}
	base := filepath.Join(dir, "base.csv")
	writeTestFile(t, base, b.String()+"extra@x.example,1\n")
	shard := inShard(all, 0, 2)
	if len(shard) < 2 || len(shard) == len(all) {
		t.Fatalf("shard 0/2 holds %d of 20: pick other names", len(shard))
	}
	dropped := shard[0].Mailbox()
	cutoff := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	ev := &evidenceFlags{baseline: base}
	tests := []struct {
		shard string
		inv   []inventory.Entry
		want  []string
	}{
		{"0/2", shard[1:], []string{dropped}},
		{"", all[1:], []string{all[0].Mailbox(), "extra@x.example"}},
	}
	for _, tt := range tests {
		rb, err := newReportBuilder([]results.Scan{{Kind: results.KindScan, Cutoff: cutoff, Shard: tt.shard}},
			reportSettings{rules: classify.DefaultRules(), inventory: tt.inv, evidenceFlags: ev})
		if err != nil {
			t.Fatal(err)
		}
		g := rb.baselineGaps()
		want := tt.want
		if tt.shard != "" && shardOf("extra@x.example", 2) == 0 {
			want = append(want, "extra@x.example")
		}
		slices.Sort(want)
		if !slices.Equal(g.OnlyBaseline, want) || len(g.NotInBaseline) != 0 || g.Listed != 21 {
			t.Errorf("shard %q: only baseline %v, not in baseline %v, listed %d; want %v, none, 21", tt.shard, g.OnlyBaseline, g.NotInBaseline, g.Listed, want)
		}
	}
}
